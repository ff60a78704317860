"""English-vs-rest on single sentences: tests/transforms/test_language.py measures it on lingua's test sentences
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


def _mixed_documents_from_redistributable_text(realdata_bundled, per_kind: int = 4):
    """The mixed-language set of testkit.langid_set.mixed_documents, built only from redistributable text:
    the bundled real documents (SPACCC Spanish, GraSCCo German, CDC English and Spanish: CC BY / public domain),
    PLOS papers (CC BY) and testkit.mixed_texts (written for the repository: Chinese, Scottish Gaelic, Hmong)
    instead of lingua's sentences (CC BY-NC). The truth follows the letters, as there."""
    from testkit.langid_set import _letters, _pick, _plos_parts, documents
    from testkit.mixed_texts import GAELIC, HMONG, NAV_FOOTER, NAV_TOP, ZH

    docs = [d for d in documents(realdata_bundled, per_group=max(per_kind, 6)) if d[1] != "cdc_es"]
    english = [t for c, g, t in docs if c == "en" and len(t) > 2500]
    foreign = [(c, t) for c, g, t in docs if c != "en" and len(t) > 2500]
    foreign_short = [(c, t) for c, g, t in docs if c != "en" and len(t) > 900]
    assert english and foreign and foreign_short
    furniture = NAV_TOP + "\n", "\n" + NAV_FOOTER
    items = []

    def add(kind, main, parts):
        text = "".join(p for p, _ in parts)
        en = sum(_letters(p) for p, is_en in parts if is_en) / max(1, _letters(text))
        items.append((kind, main, en >= 0.5, text, round(en, 4)))

    add("foreign main + English navigation", "zh", [(furniture[0], True), ((ZH * 2)[:1000], False), (furniture[1], True)])
    for code, text in _pick(foreign_short, per_kind, "furniture:real"):
        add("foreign main + English navigation", code, [(furniture[0], True), (text[:1500], False),
                                                               (furniture[1], True)])
    for n, (code, text) in enumerate(_pick(foreign, per_kind, "abstract:foreign")):
        add("foreign paper + English abstract", code,
            [("Abstract\n" + english[n % len(english)][:1200] + "\n", True), (text, False)])
    plos = _plos_parts(realdata_bundled, max(per_kind, 4))
    for n, (code, text) in enumerate(_pick(foreign, per_kind, "refs:foreign")):
        add("foreign text + English references", code,
            [(text + "\n", False), ("References\n" + plos[n % len(plos)][1][:1500], True)])
    for n, text in enumerate(_pick(english, per_kind, "abstract:english")):
        code, abstract = foreign_short[n % len(foreign_short)]
        add("English paper + foreign abstract", "en", [(abstract[:1000] + "\n", False), (text, True)])
    for body, refs in plos[:per_kind]:
        add("English paper + its references", "en", [(body + "\n", True), ("References\n" + refs, True)])
    for code, text in (("gd", (GAELIC + "\n") * 4), ("hmn", (HMONG + "\n") * 4)):  # written texts, repeated to length
        add("unknown language", code, [(text[:1500], False)])
        add("unknown language + English navigation", code, [(furniture[0], True), (text[:1000], False),
                                                                   (furniture[1], True)])
    return items


def test_mixed_language_set_from_redistributable_text(realdata_bundled):
    """Twin of test_language.test_mixed_language_set_from_real_text: the stage keeps a document exactly when
    English holds most of its letters, and its English share is close to the true one."""
    from transforms.language import judge

    settings = LanguageSettings()
    items = _mixed_documents_from_redistributable_text(realdata_bundled)
    assert {kind for kind, *_ in items} >= {"foreign main + English navigation", "unknown language + English navigation",
                                            "English paper + foreign abstract", "foreign paper + English abstract"}
    assert any(keep for _, _, keep, _, _ in items) and not all(keep for _, _, keep, _, _ in items)
    decisions = [judge(text, settings) for _, _, _, text, _ in items]
    correct = sum((d.reason is None) == keep for d, (_, _, keep, _, _) in zip(decisions, items))
    assert correct / len(items) >= 0.95, [(i[0], i[1], i[2], d.reason) for d, i in zip(decisions, items)
                                          if (d.reason is None) != i[2]]
    errors = [abs(d.shares.get("en", 0.0) - en) for d, (*_, en) in zip(decisions, items)]
    assert sum(errors) / len(errors) < 0.06
    nav = [text for kind, _, _, text, _ in items if kind == "unknown language + English navigation"]
    assert not any(judge(t, settings).reason is None for t in nav)
