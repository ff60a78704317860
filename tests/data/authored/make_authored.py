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


def main() -> None:
    (HERE / "ngc").mkdir(exist_ok=True)
    for name, spec in NGC.items():
        (HERE / "ngc" / name).write_text(ngc_xml(spec), encoding="utf-8")


if __name__ == "__main__":
    main()
