"""Writes the authored NGC summaries (ngc/*.xml) and the NICE-layout PDF (pdf/*.pdf) in this folder.

Written for this repository (licence: the repository's); all text is invented. Run from the repository root:
`python tests/data/authored/make_authored.py`. The output is deterministic; the files are committed so that
tests never depend on this script."""
from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))


def _pdfmaker():
    """tests/**/_pdfmaker.py (the synthetic-PDF writer of the PDF tests), wherever the tests keep it."""
    import importlib.util
    path = min(HERE.parents[1].rglob("*pdfmaker.py"))
    spec = importlib.util.spec_from_file_location("_authored_pdfmaker", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module

# --- National Guideline Clearinghouse summary XML: <Version><Section><Field><FieldValue Value="escaped HTML"/>

NGC_HEAD = ("<Version>\n  <xmlSource>Written for the gap_pipeline repository (licence: the repository's): an invented "
            "guideline summary in the element structure of the NGC summary XML.</xmlSource>\n")


def _field(field_id: int, name: str, html: str, kind: str = "text") -> str:
    return (f'    <Field FieldID="{field_id}" OrdBy="{field_id}" ID="{field_id}" Name={quoteattr(name)} Type="{kind}">\n'
            f'      <FieldValue Value={quoteattr(html)} />\n    </Field>\n')


def _section(name: str, fields: list[str]) -> str:
    return f'  <Section SecID="1" OrdBy="1" Name={quoteattr(name)}>\n' + "".join(fields) + "  </Section>\n"


def _para(*paragraphs: str) -> str:
    return '<div class="content_para">' + "&#xA;".join(f"<p>{p}</p>" for p in paragraphs) + "</div>"


def _list(*items: str) -> str:
    return '<ul style="list-style-type: disc;">' + "".join(f"<li>{i} </li>" for i in items) + "</ul>"


NGC = {
    "ngc-authored-1.xml": dict(
        title="Management of uncomplicated lower urinary tract infection in non-pregnant adult women.",
        recommendations=_para(
            "Women presenting with dysuria and urinary frequency, without vaginal discharge, can be diagnosed with "
            "uncomplicated lower urinary tract infection on symptoms alone; a urine culture is not needed before "
            "treatment unless symptoms recur within four weeks.",
            "The following antibiotics are recommended as first-line options when local resistance is below 20%:")
        + _list("nitrofurantoin for 5 days (avoid if eGFR &lt; 30 mL/min)", "fosfomycin as a single dose",
                "pivmecillinam for 3 days")
        + _para("Offer paracetamol or ibuprofen for pain, and advise women to drink enough fluid to avoid "
                "dehydration. Back-up prescriptions may be considered for women with mild symptoms who prefer "
                "to wait &amp; see whether the infection settles by itself.",
                "Refer women with fever, loin pain or vomiting for same-day assessment, because these "
                "features suggest that the infection has spread beyond the bladder."),
        outcomes="Symptom resolution at 7 days, recurrence within 4 weeks, adverse effects of antibiotics and "
                 "antimicrobial resistance in community urine samples.",
        population="Non-pregnant women aged 16 years and over with symptoms of lower urinary tract infection "
                   "presenting to primary care or community pharmacies.",
    ),
    "ngc-authored-2.xml": dict(
        title="Assessment and initial management of suspected iron deficiency anaemia in adults.",
        recommendations=_para(
            "Measure a full blood count and serum ferritin in adults with fatigue, breathlessness on exertion or "
            "pallor when iron deficiency is suspected. A ferritin below 30 &#181;g/L confirms iron deficiency in "
            "the absence of inflammation.",
            "Investigate the cause in every adult with confirmed iron deficiency anaemia:")
        + _list("ask about diet, blood donation and heavy menstrual bleeding",
                "test for coeliac disease with tissue transglutaminase antibodies",
                "refer men and post-menopausal women for upper and lower gastrointestinal investigation")
        + _para("Start oral iron once daily or on alternate days; alternate-day dosing is as effective and "
                "causes fewer gastrointestinal side effects for many people. Recheck the haemoglobin after "
                "four weeks: a rise of at least 10 g/L shows a response.",
                "Consider intravenous iron when oral iron is not tolerated, does not work, or when a rapid "
                "rise is needed before planned surgery.&nbsp;"),
        outcomes="Haemoglobin response at 4 weeks, ferritin at 3 months, gastrointestinal side effects and "
                 "detection of underlying gastrointestinal cancer.",
        population="Adults aged 18 years and over with suspected or confirmed iron deficiency anaemia "
                   "seen in primary or secondary care.",
    ),
}


def ngc_xml(spec: dict) -> str:
    rating = ('<table><tr><th>Grade</th><th>Meaning</th></tr><tr><td>A</td><td>Consistent evidence from '
              'randomised trials</td></tr><tr><td>B</td><td>Evidence from observational studies</td></tr></table>')
    return (NGC_HEAD
            + _section("General", [
                _field(161, "Guideline Title", f'<div class="content_title">{spec["title"]}</div>'),
                _field(97, "Bibliographic Source(s)", "<table><tr><td>Invented Guideline Group. "
                       f"{spec['title']} Nowhere: Invented Press; 2015. 40 p.&nbsp;</td></tr></table>",
                       "citation"),
                _field(120, "Guideline Status", _para("This is the current release of the guideline."))])
            + _section("Recommendations", [
                _field(151, "Major Recommendations", spec["recommendations"]),
                _field(138, "Clinical Algorithm(s)", _para("None provided."))])
            + _section("Scope", [
                _field(103, "Guideline Category", "Diagnosis&#xA;Management&#xA;Treatment", "picklist-many"),
                _field(129, "Guideline Objective(s)", _para(
                    "To help clinicians recognise the condition early, choose effective first treatment and "
                    "know when to refer, so that patients recover sooner and avoid complications.")),
                _field(132, "Target Population", _para(spec["population"])),
                _field(134, "Major Outcomes Considered", _para(spec["outcomes"]))])
            + _section("Methodology", [
                _field(135, "Description of Methods Used to Collect/Select the Evidence", _para(
                    "The invented guideline group searched bibliographic databases for randomised trials and "
                    "systematic reviews published in the previous ten years, and screened every abstract twice.")),
                _field(149, "Rating Scheme for the Strength of the Evidence", rating)])
            + _section("Benefits/Harms of Implementing the Guideline Recommendations", [
                _field(152, "Potential Benefits", _para(
                    "Faster relief of symptoms, fewer unnecessary tests and more consistent care between "
                    "practices and pharmacies.")),
                _field(153, "Potential Harms", _para(
                    "Side effects of treatment, and missed diagnoses when atypical symptoms are not "
                    "reassessed after a few days."))])
            + _section("Identifying Information and Availability", [
                _field(141, "Copyright Statement", _para("This summary is invented; no copyright applies.")),
                _field(142, "NGC Status", _para("This summary was written for a test suite."))])
            + _section("Disclaimer", [_field(99999, "NGC Disclaimer", _para(
                "The summary is provided for software tests only."))])
            + "</Version>\n")


# --- A guideline PDF in NICE's layout: numbered recommendations in a margin column, section headings,
# bulleted lists, hyphenated line ends, a contents page with dot leaders, and on every page the footer
# "(c) NICE yyyy. All rights reserved. Subject to Notice of rights (...)" + "Page n of m". Text invented.

NICE_TITLE = "Invented joint condition: diagnosis and management"
NICE_CODE = "NICE guideline NG999"
# (kind, payload): ("h", heading) | ("rec", (number, [lines])) | ("bullets", [items]) | ("p", [lines])
NICE_BODY = [
    [("h", "1 Recommendations"),
     ("p", ["People have the right to be involved in discussions and make informed decisions",
            "about their care, as described in the invented guidance on making decisions."]),
     ("h", "1.1 Organisation of care"),
     ("rec", ("1.1.1", ["Set up a managed clinical network for people with suspected or confirmed",
                        "invented joint condition, consisting of community services, specialist",
                        "clinics and a regional centre with a named lead clinician."])),
     ("rec", ("1.1.2", ["Community services should include general practitioners, practice nurses,",
                        "physiotherapists and pharmacists with training in the condition."])),
     ("rec", ("1.1.3", ["Specialist clinics should provide diagnostic imaging, joint aspiration and",
                        "access to a multidisciplinary team for people whose symptoms persist."])),
     ("h", "1.2 Symptoms and signs"),
     ("rec", ("1.2.1", ["Suspect the condition in people with one or more of the following symptoms:"])),
     ("bullets", ["morning stiffness lasting more than an hour", "swelling of two or more joints",
                  "pain that wakes the person at night"]),
     ("rec", ("1.2.2", ["Ask about pre-eclampsia in previous pregnancies, because a history of pre-",
                        "eclampsia is linked with the condition in the invented cohort studies."])),
     ],
    [("h", "1.3 Assessment"),
     ("rec", ("1.3.1", ["Offer a joint examination to people with suspected invented joint condition,",
                        "recording the number of tender and swollen joints on a standard chart."])),
     ("rec", ("1.3.2", ["Offer a urinary reagent-strip test to people with swollen joints and fever; a",
                        "positive reagent-strip test needs a laboratory urine culture before starting",
                        "treatment, and a negative reagent-",
                        "strip test does not rule out infection."])),
     ("rec", ("1.3.3", ["Do not offer routine imaging to people whose symptoms have lasted less than",
                        "six weeks, unless there are signs of infection or a suspected fracture."])),
     ("rec", ("1.3.4", ["For people taking anticoagulants, aspirate a swollen joint only after checking",
                        "the level of anticoagu-",
                        "lation, and explain the risk of bleeding into the joint."])),
     ],
    [("h", "1.4 Management"),
     ("rec", ("1.4.1", ["Offer paracetamol or a topical non-steroidal anti-inflammatory drug as first",
                        "treatment, and review the response after two weeks."])),
     ("rec", ("1.4.2", ["Refer people to the specialist clinic if pain or swelling persists after six",
                        "weeks of first treatment, or sooner if the person cannot work."])),
     ("rec", ("1.4.3", ["Women with a history of pre-eclampsia should be told that the condition may",
                        "flare after pregnancy, and offered a review six weeks after the birth."])),
     ("p", ["For a short explanation of why the committee made these recommendations, see",
            "the rationale section on management."]),
     ],
]


def nice_pdf() -> bytes:
    pdfmaker = _pdfmaker()
    PageSpec, Run = pdfmaker.PageSpec, pdfmaker.Run

    pages_total = 2 + len(NICE_BODY)

    def furniture(n: int) -> list:
        return [Run(72, 50, f"{NICE_TITLE} ({NICE_CODE[-5:]})", 7),
                Run(72, 40, "\u00a9 NICE 2024. All rights reserved. Subject to Notice of rights (https://www.nice.org.uk/"
                    "terms-and-conditions#notice-of-rights).", 7),
                Run(520, 40, f"Page {n} of", 7), Run(560, 40, f"{pages_total}", 7)]

    cover = [Run(72, 680, NICE_TITLE, 22), Run(72, 640, NICE_CODE, 12),
             Run(72, 620, "Published: 1 January 2024", 10),
             Run(72, 600, "www.nice.org.uk/guidance/ng999", 10)]
    contents = [Run(72, 720, "Contents", 16)]
    for i, (entry, page) in enumerate([("Overview", 3), ("1 Recommendations", 3), ("1.1 Organisation of care", 3),
                                       ("1.3 Assessment", 4), ("1.4 Management", 5)]):
        contents.append(Run(72, 690 - 14 * i, f"{entry} " + "." * (90 - 2 * len(entry)) + f" {page}", 10))
    pages = [PageSpec(cover + furniture(1)), PageSpec(contents + furniture(2))]
    for n, blocks in enumerate(NICE_BODY, start=3):
        runs, y = [], 730
        for kind, payload in blocks:
            if kind == "h":
                y -= 12 if y < 730 else 0  # space above a heading, as in NICE's layout
                runs.append(Run(72, y, payload, 14))
                y -= 24
            elif kind == "rec":
                number, lines = payload
                runs.append(Run(72, y, number, 10))
                for line in lines:
                    runs.append(Run(120, y, line, 10))
                    y -= 12
                y -= 8
            elif kind == "bullets":
                for item in payload:
                    runs.append(Run(130, y, f"\u2022 {item}", 10))
                    y -= 12
                y -= 8
            else:
                for line in payload:
                    runs.append(Run(72, y, line, 10))
                    y -= 12
                y -= 8
        pages.append(PageSpec(runs + furniture(n)))
    return pdfmaker.make_pdf(pages)


# --- A report whose cover repeats on an inner title page (as WHO reports do): the title must appear once,
# and the cover's stray single glyphs (a decorative initial, a logo's letter) must not become text lines.

def cover_pdf() -> bytes:
    pdfmaker = _pdfmaker()
    PageSpec, Run, paragraph_runs = pdfmaker.PageSpec, pdfmaker.Run, pdfmaker.paragraph_runs

    title = "Healthy eating in invented communities"
    cover = [Run(300, 700, "W", 60), Run(72, 620, title, 26), Run(72, 580, "A report written for a test suite", 14),
             Run(520, 60, "i", 8)]
    # the inner title page: the same words laid out again, smaller
    inner = [Run(72, 740, "W", 20), Run(72, 700, title, 20), Run(72, 670, "A report written for a test suite", 12),
             Run(72, 60, "i", 8)]
    body = []
    for n, heading in enumerate(["Introduction", "What changed", "Recommendations"]):
        runs = [Run(72, 730, heading, 14)]
        runs += paragraph_runs(72, 700, [
            "A healthy diet protects against malnutrition and against many long-term conditions,",
            "including heart disease, diabetes and some cancers, in every invented community.",
            f"Part {n + 1} describes how the invented communities changed what they eat and why.",
            "Fruit, vegetables, legumes, nuts and whole grains made up a larger share of meals, while",
            "salt, free sugars and industrially produced fats were reduced step by step over the years."])
        runs.append(Run(72, 40, "Invented Health Organization report series", 8))
        runs.append(Run(540, 40, str(n + 3), 8))
        body.append(PageSpec(runs))
    return pdfmaker.make_pdf([PageSpec(cover), PageSpec(inner)] + body)


def main() -> None:
    (HERE / "ngc").mkdir(exist_ok=True)
    for name, spec in NGC.items():
        (HERE / "ngc" / name).write_text(ngc_xml(spec), encoding="utf-8")
    (HERE / "pdf").mkdir(exist_ok=True)
    (HERE / "pdf" / "nice_layout_authored.pdf").write_bytes(nice_pdf())
    (HERE / "pdf" / "report_cover_repeated.pdf").write_bytes(cover_pdf())


if __name__ == "__main__":
    main()
