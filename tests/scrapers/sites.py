"""Fixture sites that follow each publisher's real structure (listing, pagination, article page,
PDF link), written for these tests (no publisher content is copied). Each builder returns
(routes, expected): routes for FixtureServer, and expected = {path: content_type} of every record
a full crawl must store."""
from __future__ import annotations

import copy
import json
import re
from urllib.parse import urlencode, urlsplit

from testkit.server import Page, make_pdf

CLINICAL = ("Adults with suspected {t} should be assessed promptly. Offer first-line treatment according to "
            "severity, review the response within 48 hours and refer to specialist care when symptoms persist. "
            "Explain the benefits and risks of each option and record the shared decision in the notes.")


def shell(title: str, main: str, *, head_title: str | None = None) -> str:
    """A page with the chrome every real site has (nav, footer, an off-site link)."""
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{head_title or title}</title></head>"
            f"<body><nav><a href='/'>Home</a> <a href='/about'>About us</a> <a href='https://twitter.com/share'>Share</a></nav>"
            f"{main}<footer><a href='/privacy'>Privacy</a> <a href='http://10.0.0.7/intranet'>Staff</a></footer></body></html>")


def para(topic: str) -> str:
    return f"<p>{CLINICAL.format(t=topic)}</p><p>Recommendation: monitor {topic} at every visit.</p>"


def _html(routes, path, html):
    routes[path] = Page(html)


def site_aafp():
    r, exp = {}, {}
    links = "".join(f"<li><a href='/family-physician/patient-care/clinical-recommendations/all-clinical-recommendations/{s}.html'>{s}</a></li>"
                    for s in ("asthma", "otitis-media", "hypertension-adults"))
    _html(r, "/family-physician/patient-care/clinical-recommendations/recommendations-by-topic.html",
          shell("Clinical Recommendations by Topic", f"<main><h1>Recommendations by Topic</h1><div class='cmp-text'><ul>{links}</ul></div>"
                "<div class='promo'><a href='/membership/join.html'>Join</a></div></main>"))
    for s in ("asthma", "otitis-media", "hypertension-adults"):
        p = f"/family-physician/patient-care/clinical-recommendations/all-clinical-recommendations/{s}.html"
        _html(r, p, shell(s, f"<main><h1>{s}</h1><div class='cmp-text'>{para(s)}</div></main>"))
        exp[p] = "html"
    return r, exp


def site_cco():
    r, exp = {}, {}
    base = "/en/guidelines-advice/types-of-cancer"
    pages = [[101, 102], [103]]
    for n, ids in enumerate(pages):
        rows = "".join(f"<div class='views-row'><span class='views-field-title'><a href='{base}/{i}'>Guideline {i}</a></span></div>" for i in ids)
        pager = f"<ul class='pager'><li><a href='?page={n + 1}'>next ›</a></li></ul>"
        path = base if n == 0 else f"{base}?page={n}"
        _html(r, path, shell("Guidelines & Advice", f"<h1>Guidelines</h1><div class='view-content'>{rows}</div>{pager}"))
    _html(r, f"{base}?page=2", shell("Guidelines & Advice", "<h1>Guidelines</h1><div class='view-content'></div>"))
    for i in (101, 102, 103):
        pdf = f"/sites/ccocancercare/files/guidelines/full/pebc{i}f.pdf"
        _html(r, f"{base}/{i}", shell(f"Guideline {i}", f"<h1 class='page-title'>Guideline {i}</h1><div class='field-name-body'>{para('cancer')}</div>"
                                      f"<div class='field-name-field-guideline-document'><a href='{pdf}'>Full report (PDF)</a></div>"))
        r[pdf] = Page(make_pdf(f"Guideline {i}\n{CLINICAL.format(t='cancer')}"), "pdf")
        exp[f"{base}/{i}"], exp[pdf] = "html", "pdf"
    return r, exp


def site_cdc():
    r, exp = {}, {}
    vols = {"2022": ["/mmwr/volumes/71/rr/rr7101a1.htm", "/mmwr/volumes/71/rr/rr7102a1.htm"],
            "2003": ["/mmwr/preview/mmwrhtml/rr5210a1.htm"]}
    _html(r, "/mmwr/mmwr_rr/rr_pvol.html", shell("MMWR Recommendations and Reports", "<h1>Recommendations and Reports</h1><ul>" +
          "".join(f"<li><a href='/mmwr/indrr_{y}.html'>{y}</a></li>" for y in vols) + "<li><a href='/mmwr/about.html'>About</a></li></ul>"))
    for y, arts in vols.items():
        _html(r, f"/mmwr/indrr_{y}.html", shell(f"RR {y}", "<ul>" + "".join(f"<li><a href='{a}'>Report {a[-10:]}</a></li>" for a in arts) + "</ul>"))
        for a in arts:
            _html(r, a, shell(a, f"<div id='content'><h1>Report {a[-10:]}</h1>{para('tuberculosis')}</div>"))
            exp[a] = "html"
    return r, exp


def site_cma():
    r, exp = {}, {}
    base = "/cpg/homepage/browse-by/category"
    for n, ids in ((1, [11, 12]), (2, [13]), (3, [])):
        rows = "".join(f"<div class='cpg-result'><h3><a href='/cpg/homepage/cpg/{i}'>CPG {i}</a></h3></div>" for i in ids)
        _html(r, base if n == 1 else f"{base}?page={n}", shell("CPG Infobase", f"<h1>Browse</h1>{rows}"))
    _html(r, f"{base}?page=1", shell("CPG Infobase", "<h1>Browse</h1>" + "".join(
        f"<div class='cpg-result'><h3><a href='/cpg/homepage/cpg/{i}'>CPG {i}</a></h3></div>" for i in (11, 12))))
    for i in (11, 12, 13):
        pdf = f"/cpg/files/guidelines/{i}.pdf"
        _html(r, f"/cpg/homepage/cpg/{i}", shell(f"CPG {i}", f"<h1>CPG {i}</h1><div class='cpg-detail'>Developer: a society."
                                                 f"<a class='cpg-download' href='{pdf}'>Download</a></div>"))
        r[pdf] = Page(make_pdf(f"CPG {i}\n{CLINICAL.format(t='diabetes')}"), "pdf")
        exp[pdf] = "pdf"
    return r, exp


def site_cps():
    r, exp = {}, {}
    base = "/en/documents/authors-auteurs/position-statements"
    slugs = [["fever-in-infants", "bronchiolitis"], ["croup"]]
    for n, group in enumerate(slugs):
        items = "".join(f"<li><a class='title' href='/en/documents/position/{s}'>{s}</a></li>" for s in group)
        nxt = f"<a rel='next' href='{base}?page={n + 2}'>Next</a>" if n + 1 < len(slugs) else ""
        _html(r, base if n == 0 else f"{base}?page={n + 1}", shell("Position statements", f"<h1>Position statements</h1><ul class='document-list'>{items}</ul>{nxt}"))
        for s in group:
            p = f"/en/documents/position/{s}"
            _html(r, p, shell(s, f"<h1>{s}</h1><div class='document-body'>{para(s)}</div>"))
            exp[p] = "html"
    return r, exp


def site_drugs():
    r, exp = {}, {}
    drugs = {"a": ["amoxicillin", "atorvastatin"], "b": ["budesonide"]}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        items = "".join(f"<li><a href='/{d}.html'>{d}</a></li>" for d in drugs.get(letter, []))
        _html(r, f"/alpha/{letter}.html", shell(f"Drugs {letter}", f"<h1>{letter.upper()}</h1><ul class='ddc-list-column-2'>{items}</ul>"
                                                f"<ul class='ddc-paging'><li><a href='/alpha/{letter}.html'>{letter}</a></li></ul>"))
    for d in sum(drugs.values(), []):
        _html(r, f"/{d}.html", shell(d, f"<h1>{d}</h1><div id='content'>{para(d)}</div>"))
        exp[f"/{d}.html"] = "html"
    return r, exp


def site_gc():
    r, exp = {}, {}
    groups = [["acute-otitis-media", "sepsis"], ["heart-failure"]]
    for n, group in enumerate(groups):
        items = "".join(f"<a class='summary-title' href='/summaries/{s}/'>{s}</a>" for s in group)
        nxt = f"<ul class='pagination'><li class='next'><a href='/summaries/?page={n + 2}'>Next</a></li></ul>" if n + 1 < len(groups) else ""
        _html(r, "/summaries/" if n == 0 else f"/summaries/?page={n + 1}", shell("Summaries", f"<h1>Guideline Summaries</h1><div class='summary-list'>{items}</div>{nxt}"))
        for s in group:
            _html(r, f"/summaries/{s}/", shell(s, f"<h1>{s}</h1><div class='summary-content'>{para(s)}</div>"))
            exp[f"/summaries/{s}/"] = "html"
    return r, exp


def site_icrc():
    r, exp = {}, {}
    start = "/en/publications?f%5B0%5D=topic%3Ahealth"
    pages = [["first-aid-manual", "war-surgery-vol-1"], ["anaesthesia-handbook"], []]
    for n, group in enumerate(pages):
        arts = "".join(f"<article><h3><a href='/en/publication/{s}'>{s}</a></h3></article>" for s in group)
        _html(r, start if n == 0 else f"{start}&page={n}", shell("Publications", f"<h1>Publications</h1><div class='view-content'>{arts}</div>"))
    for s in sum(pages, []):
        pdf = f"/sites/default/files/document/file_list/{s}.pdf"
        _html(r, f"/en/publication/{s}", shell(s, f"<h1>{s}</h1><div class='publication-description'>Handbook.</div>"
                                               f"<a class='download-pdf' href='{pdf}'>Download PDF</a>"))
        r[pdf] = Page(make_pdf(f"{s}\n{CLINICAL.format(t='trauma')}"), "pdf")
        exp[pdf] = "pdf"
    return r, exp


def site_idsa():
    r, exp = {}, {}
    slugs = ["clostridioides-difficile", "community-acquired-pneumonia", "hiv-primary-care"]
    items = "".join(f"<p><a href='/practice-guideline/{s}/'>{s}</a></p>" for s in slugs)
    _html(r, "/practice-guideline/alphabetical-guidelines/", shell("Guidelines A-Z", f"<h1>All guidelines</h1><div class='guideline-list'>{items}"
                                                                   "<a href='/practice-guideline/alphabetical-guidelines/'>Top</a></div>"))
    for s in slugs:
        _html(r, f"/practice-guideline/{s}/", shell(s, f"<h1>{s}</h1><div class='rich-text'>{para(s)}</div>"))
        exp[f"/practice-guideline/{s}/"] = "html"
    return r, exp


def site_mayo():
    r, exp = {}, {}
    conds = {"A": [("acne", 20368047), ("asthma", 20369653)], "C": [("celiac-disease", 20352220)]}
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        items = "".join(f"<li><a href='/diseases-conditions/{c}/symptoms-causes/syc-{n}'>{c}</a></li>" for c, n in conds.get(letter, []))
        _html(r, f"/diseases-conditions/index?letter={letter}", shell(f"Diseases {letter}", f"<h1>{letter}</h1><div class='index'><ol>{items}</ol></div>"))
    for c, n in sum(conds.values(), []):
        p = f"/diseases-conditions/{c}/symptoms-causes/syc-{n}"
        _html(r, p, shell(c, f"<article id='main-content'><h1>{c}</h1>{para(c)}</article>"))
        exp[p] = "html"
    return r, exp


def site_nice():
    r, exp = {}, {}
    start = "/guidance/published?ngt=NICE%20guidelines&ps=50"
    pages = [["ng28", "ng136"], ["cg95"], []]
    for n, group in enumerate(pages):
        rows = "".join(f"<tr><td><a href='/guidance/{g}'>Guideline {g}</a></td><td>{g.upper()}</td></tr>" for g in group)
        _html(r, start if n == 0 else f"{start}&pn={n + 1}", shell("Published guidance", f"<h1>Published</h1><table id='published-guidance'>{rows}</table>"
                                                                 f"<a href='{start}&pn={n + 2}'>Next page</a>"))
    for g in sum(pages, []):
        pdf = f"/guidance/{g}/resources/{g}-pdf-1837389003973"
        _html(r, f"/guidance/{g}", shell(g, f"<h1 class='page-header__heading'>Guideline {g}</h1><div class='chapter'>{para(g)}</div>"
                                        f"<a class='btn--cta' href='{pdf}'>Download guidance (PDF)</a>"))
        r[pdf] = Page(make_pdf(f"Guideline {g}\n{CLINICAL.format(t='diabetes')}"), "pdf")
        exp[f"/guidance/{g}"], exp[pdf] = "html", "pdf"
    return r, exp


def site_rch():
    r, exp = {}, {}
    slugs = ["Asthma_acute", "Bronchiolitis", "Febrile_child"]
    items = "".join(f"<li><a href='/clinicalguide/guideline_index/{s}/'>{s}</a></li>" for s in slugs)
    _html(r, "/clinicalguide/guideline_index/", shell("CPG index", f"<h1>Clinical Practice Guidelines</h1><div class='a-z-list'><ul>{items}</ul></div>"))
    for s in slugs:
        _html(r, f"/clinicalguide/guideline_index/{s}/", shell(s, f"<h1>{s}</h1><div class='widgetBody'>{para(s)}</div>"))
        exp[f"/clinicalguide/guideline_index/{s}/"] = "html"
    return r, exp


def site_spor():
    r, exp = {}, {}
    base = "/key-activities/cpg-asset-map/cpg-database/"
    groups = [["adhd-guideline", "low-back-pain"], ["osteoporosis"]]
    for n, group in enumerate(groups):
        rows = "".join(f"<tr><td class='title'><a href='{base}{s}/'>{s}</a></td></tr>" for s in group)
        nxt = f"<a class='next page-numbers' href='{base}page/{n + 2}/'>Next</a>" if n + 1 < len(groups) else ""
        _html(r, base if n == 0 else f"{base}page/{n + 1}/", shell("CPG database", f"<h1>CPG database</h1><table class='cpg-table'>{rows}</table>{nxt}"))
        for s in group:
            pdf = f"/wp-content/uploads/2021/03/{s}.pdf"
            _html(r, f"{base}{s}/", shell(s, f"<h1>{s}</h1><div class='entry-content'>Summary. <a href='{pdf}'>Full guideline</a></div>"))
            r[pdf] = Page(make_pdf(f"{s}\n{CLINICAL.format(t=s)}"), "pdf")
            exp[pdf] = "pdf"
    return r, exp


def site_who():
    r, exp = {}, {}
    start = "/discover?filtertype=type&filter_relational_operator=equals&filter=Guideline"
    pages = [[9789240001, 9789240002], [9789240003], []]
    for n, group in enumerate(pages):
        items = "".join(f"<div class='ds-artifact-item'><div class='artifact-title'><a href='/handle/10665/{h}'>Guideline {h}</a></div></div>" for h in group)
        _html(r, start if n == 0 else f"{start}&page={n + 1}", shell("Discover", f"<h2>Search</h2>{items}"))
    for h in sum(pages, []):
        pdf = f"/bitstream/handle/10665/{h}/{h}-eng.pdf"
        _html(r, f"/handle/10665/{h}", shell(str(h), f"<h2 class='page-header'>Guideline {h}</h2><div class='item-summary-view-metadata'>"
                                             f"<div class='file-link'><a href='{pdf}?sequence=1&isAllowed=y'>View/Open</a></div></div>"))
        r[f"{pdf}?sequence=1&isAllowed=y"] = Page(make_pdf(f"WHO guideline {h}\n{CLINICAL.format(t='malaria')}"), "pdf")
        exp[f"{pdf}?sequence=1&isAllowed=y"] = "pdf"
    return r, exp


def site_medlineplus():
    r, exp = {}, {}
    topics = {"a": ["asthma", "anemia"], "d": ["diabetes"]}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        items = "".join(f"<li><a href='/{t}.html'>{t}</a></li>" for t in topics.get(letter, []))
        _html(r, f"/healthtopics_{letter}.html", shell(f"Health Topics {letter}", f"<h1>Health Topics: {letter.upper()}</h1><ul id='index'>{items}</ul>"))
    for t in sum(topics.values(), []):
        _html(r, f"/{t}.html", shell(t, f"<h1>{t}</h1><div id='topic-summary'>{para(t)}</div>"))
        exp[f"/{t}.html"] = "html"
    return r, exp


def site_magic():
    r, exp = {}, {}
    listing = [[{"guidelineId": 1001, "name": "Antithrombotic therapy"}, {"guidelineId": 1002, "name": "Sepsis"}],
               [{"guidelineId": 1003, "name": "Covid-19 therapeutics"}]]
    for n, items in enumerate(listing, 1):
        r[f"/api/v1/guidelines?page={n}&pageSize=50"] = Page(json.dumps({"guidelines": items, "page": n, "totalPages": 2}), "json")
        for it in items:
            body = {"guidelineId": it["guidelineId"], "name": it["name"], "sections": [
                {"heading": "Background", "text": para(it["name"]),
                 "recommendations": [{"title": "Recommendation 1", "text": "<p>We suggest treatment.</p>", "strength": "weak"}]}]}
            p = f"/api/v1/guidelines/{it['guidelineId']}/sections"
            r[p] = Page(json.dumps(body), "json")
            exp[p] = "html"
    return r, exp


def site_wikidoc():
    r, exp = {}, {}
    batches = [[(11, "Asthma"), (12, "Bronchitis")], [(13, "Cholera")]]
    for n, batch in enumerate(batches):
        q = {"action": "query", "list": "allpages", "apnamespace": 0, "apfilterredir": "nonredirects", "aplimit": 500, "format": "json"}
        if n:
            q.update(apcontinue=batches[n][0][1], **{"continue": "-||"})
        body = {"query": {"allpages": [{"pageid": i, "ns": 0, "title": t} for i, t in batch]}}
        if n + 1 < len(batches):
            body["continue"] = {"apcontinue": batches[n + 1][0][1], "continue": "-||"}
        r[f"/api.php?{urlencode(q)}"] = Page(json.dumps(body), "json")
        for i, t in batch:
            p = f"/api.php?{urlencode({'action': 'parse', 'pageid': i, 'prop': 'text|revid', 'formatversion': 2, 'format': 'json'})}"
            r[p] = Page(json.dumps({"parse": {"title": t, "pageid": i, "revid": 1000 + i,
                                              "text": f"<div class='mw-parser-output'>{para(t)}</div>"}}), "json")
            exp[p] = "html"
    return r, exp


def site_pubmed_guidelines():
    r, exp = {}, {}
    term = '"practice guideline"[pt] OR "guideline"[pt]'
    ids = ["31000001", "31000002", "35500003"]
    q = {"db": "pubmed", "term": term, "retmode": "json", "retmax": 2, "retstart": 0, "tool": "gap_pipeline"}
    r[f"/entrez/eutils/esearch.fcgi?{urlencode(q)}"] = Page(json.dumps({"esearchresult": {"count": "3", "idlist": ids[:2]}}), "json")
    q["retstart"] = 2
    r[f"/entrez/eutils/esearch.fcgi?{urlencode(q)}"] = Page(json.dumps({"esearchresult": {"count": "3", "idlist": ids[2:]}}), "json")
    for chunk in (ids[:2], ids[2:]):
        p = f"/entrez/eutils/efetch.fcgi?{urlencode({'db': 'pubmed', 'id': ','.join(chunk), 'retmode': 'xml', 'tool': 'gap_pipeline'})}"
        arts = "".join(f"<PubmedArticle><MedlineCitation><PMID>{i}</PMID><Article><ArticleTitle>Guideline {i}</ArticleTitle>"
                       f"<Abstract><AbstractText>{CLINICAL.format(t='sepsis')}</AbstractText></Abstract>"
                       f"<PublicationTypeList><PublicationType>Practice Guideline</PublicationType></PublicationTypeList>"
                       f"</Article></MedlineCitation></PubmedArticle>" for i in chunk)
        r[p] = Page(f"<?xml version='1.0'?><PubmedArticleSet>{arts}</PubmedArticleSet>", "xml")
        exp[p] = "pubmed-xml"
    return r, exp


SITES = {name[5:]: fn for name, fn in globals().items() if name.startswith("site_")}
# Spec tweaks a small fixture needs (a smaller esearch page so paging is exercised).
SPEC_TWEAKS = {"pubmed_guidelines": {"discovery": {"api": {"page_size": 2}}}}


def _deep_update(base, upd):
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v


def localize(spec: dict, base: str) -> dict:
    """The spec pointed at a loopback server: every URL on an allowed domain is moved to `base`."""
    spec = copy.deepcopy(spec)
    _deep_update(spec, SPEC_TWEAKS.get(spec["id"], {}))
    domains = spec["allowed_domains"]
    pattern = re.compile(r"https?://([a-z0-9.-]+)")

    def move(value):
        if isinstance(value, str):
            def sub(m):
                host = m.group(1)
                return base if any(host == d or host.endswith("." + d) for d in domains) else m.group(0)
            return pattern.sub(sub, value)
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        return value

    spec["discovery"] = move(spec["discovery"])
    spec["allowed_domains"] = [urlsplit(base).hostname]
    return spec
