"""Seven short pages written for the encoding tests by the gap_pipeline authors (CC0), in English, French,
Spanish, German and Portuguese, using characters that cp1252 has and latin-1/cp1250 place elsewhere or lack:
“ ” ‘ ’ „ – — € … œ ï. Encoded as cp1252 without any charset declaration, they are what charset detection
alone reads as cp1250 ("naïve" -> "naďve") in about half the cases."""
PAGES = [
    ("naive", "<html><head><title>Naïve patients</title></head><body><h1>Naïve patients</h1>"
     "<p>In treatment-naïve adults, the panel’s “first choice” is a two–drug regimen; the naïve cohort "
     "showed fewer relapses – about 12 % – than expected. Costs were under €40 per month.</p></body></html>"),
    ("cafe", "<html><body><h1>Café au lait spots</h1><p>Café-au-lait macules are common: “six or more” "
     "spots >5 mm before puberty suggest neurofibromatosis – refer early. The naïve reader’s question "
     "is answered in the résumé below… Consultation fee: €25.</p></body></html>"),
    ("fr", "<html><body><h1>Recommandations – hypertension</h1><p>Le médecin évalue la tension à "
     "deux reprises ; l’objectif est < 140/90 mm Hg. « Mesure ambulatoire » recommandée. Coût : 30 €. "
     "Les patients âgés — surtout après 80 ans — reçoivent une dose réduite. Cœur, œdème, naïf.</p></body></html>"),
    ("es", "<html><body><h1>Guía clínica: diabetes</h1><p>El paciente debe controlar la glucemia en ayunas; "
     "la metformina es el fármaco de elección – salvo insuficiencia renal. “Educación” y dieta son "
     "esenciales. Precio orientativo: 5 € al mes. ¿Preguntas? Consulte al médico.</p></body></html>"),
    ("de", "<html><body><h1>Leitlinie – Asthma</h1><p>Für Erwachsene gilt: inhalative Kortikosteroide "
     "sind die Grundlage der Therapie. „Bedarfsmedikation“ allein reicht nicht – außer bei sehr "
     "mildem Verlauf. Zuzahlung: 10 € je Packung. Größe, Gewicht, Überwachung.</p></body></html>"),
    ("en", "<html><body><h1>Antibiotic stewardship</h1><p>Clinicians shouldn’t prescribe antibiotics for "
     "viral infections – they don’t help. The “watchful waiting” approach saves money (about €8 per course) "
     "and reduces resistance… Naïve users often expect a prescription; explain why not.</p></body></html>"),
    ("pt", "<html><body><h1>Vacinação – adultos</h1><p>A vacina contra a gripe é recomendada anualmente; "
     "pacientes idosos “de alto risco” devem recebê-la antes do inverno – custo médio de 15 €. "
     "Informação: não há contraindicação na gravidez.</p></body></html>"),
]
