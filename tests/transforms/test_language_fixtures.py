"""English-vs-rest on single sentences: tests/dedup/test_language.py measures it on lingua's test sentences
(CC BY-NC, not bundled); here on sentences written for this repository (licence: the repository's), four per
language in the same seven languages, so a clone without ../shared checks the same behaviour."""
from __future__ import annotations

from transforms.language import LanguageSettings, detect_language

SENTENCES = {
    "en": ["The nurse checked the patient's blood pressure twice before the morning ward round.",
           "Most children recover from a mild ear infection within three days without antibiotics.",
           "Please bring a list of all the medicines you take to your next appointment.",
           "The new clinic opens on Monday and will see walk-in patients until eight in the evening."],
    "de": ["Die Krankenschwester hat den Blutdruck des Patienten vor der Visite zweimal gemessen.",
           "Die meisten Kinder erholen sich von einer leichten Mittelohrentzündung innerhalb von drei Tagen.",
           "Bitte bringen Sie zu Ihrem nächsten Termin eine Liste aller Medikamente mit, die Sie einnehmen.",
           "Die neue Praxis öffnet am Montag und ist bis acht Uhr abends ohne Termin geöffnet."],
    "fr": ["L'infirmière a mesuré deux fois la tension artérielle du patient avant la visite du matin.",
           "La plupart des enfants guérissent d'une otite légère en trois jours sans antibiotiques.",
           "Veuillez apporter la liste de tous vos médicaments à votre prochain rendez-vous.",
           "La nouvelle clinique ouvre lundi et accueillera les patients sans rendez-vous jusqu'à vingt heures."],
    "es": ["La enfermera midió dos veces la presión arterial del paciente antes de la visita de la mañana.",
           "La mayoría de los niños se recuperan de una otitis leve en tres días sin antibióticos.",
           "Por favor, traiga una lista de todos los medicamentos que toma a su próxima cita.",
           "La nueva clínica abre el lunes y atenderá a pacientes sin cita hasta las ocho de la tarde."],
    "it": ["L'infermiera ha misurato due volte la pressione del paziente prima del giro visite del mattino.",
           "La maggior parte dei bambini guarisce da un'otite lieve in tre giorni senza antibiotici.",
           "Per favore porti un elenco di tutti i farmaci che prende al prossimo appuntamento.",
           "Il nuovo ambulatorio apre lunedì e riceverà i pazienti senza appuntamento fino alle otto di sera."],
    "nl": ["De verpleegkundige heeft de bloeddruk van de patiënt twee keer gemeten voor de ochtendronde.",
           "De meeste kinderen herstellen binnen drie dagen van een lichte oorontsteking zonder antibiotica.",
           "Neem alstublieft een lijst van al uw medicijnen mee naar uw volgende afspraak.",
           "De nieuwe kliniek gaat maandag open en ontvangt patiënten zonder afspraak tot acht uur 's avonds."],
    "pt": ["A enfermeira mediu duas vezes a pressão arterial do paciente antes da visita da manhã.",
           "A maioria das crianças recupera de uma otite leve em três dias sem antibióticos.",
           "Por favor, traga uma lista de todos os medicamentos que toma para a sua próxima consulta.",
           "A nova clínica abre na segunda-feira e atenderá pacientes sem marcação até às oito da noite."],
}


def test_english_vs_rest_accuracy_on_authored_sentences():
    settings = LanguageSettings(short_text_chars=20)  # single sentences, as in the lingua test
    items = [(code, s) for code, sentences in SENTENCES.items() for s in sentences]
    correct = sum((detect_language(t, settings)[0] == "en") == (code == "en") for code, t in items)
    assert correct / len(items) >= 0.9
    # and the language itself, not only English-or-not, for most of them
    exact = sum(detect_language(t, settings)[0] == code for code, t in items)
    assert exact / len(items) >= 0.8
