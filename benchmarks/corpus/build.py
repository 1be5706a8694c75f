"""Builds the corpus of typeset documents from content.py: LaTeX (pdflatex) and a word processor
(LibreOffice, headless), with and without an outline, plus truth.json (each section's text).

The PDFs are committed beside this script, so the benchmark and the tests never need TeX or
LibreOffice; run this only after changing content.py (Debian: texlive-latex-base,
texlive-latex-recommended, lmodern, libreoffice-writer-nogui).

    python benchmarks/corpus/build.py            # writes benchmarks/corpus/*.pdf and truth.json

Documents:
  thesis-latex.pdf            report class: chapters, a table of contents, lists of figures and
                              tables, figures drawn with text labels, a table, an equation, a
                              bibliography, an appendix; hyperref's bookmarks
  thesis-latex-nooutline.pdf  the same without bookmarks (headings from the text alone)
  thesis-writer.pdf           the same text as a word processor lays it out (HTML into Writer),
                              with Writer's bookmarks
  thesis-writer-nooutline.pdf the same without bookmarks
  paper-twocolumn.pdf         a two-column article with its own text and questions
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from content import PAPER, PAPER_TITLE, THESIS, THESIS_TITLE  # noqa: E402

_TEX_ESCAPES = {"%": r"\%", "&": r"\&", "#": r"\#", "_": r"\_", "$": r"\$", "~": r"\textasciitilde{}", "^": r"\^{}"}


def tex(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def latex(nodes: list, title: str, kind: str, outline: bool) -> str:
    """A report (`kind` "report": chapters) or a two-column article (`kind` "paper": sections)."""
    levels = ["chapter", "section", "subsection"] if kind == "report" else ["section", "subsection", "subsubsection"]
    head = [
        r"\documentclass[11pt" + (",twocolumn" if kind == "paper" else "") + "]{" + ("report" if kind == "report" else "article") + "}",
        r"\usepackage[T1]{fontenc}", r"\usepackage{lmodern}", r"\usepackage{amsmath}", r"\usepackage{booktabs}",
        r"\usepackage[bookmarks=" + ("true" if outline else "false") + r",hidelinks]{hyperref}",
        r"\title{" + tex(title) + r"}", r"\author{A. Student}", r"\date{2021}", r"\begin{document}", r"\maketitle",
    ]
    if kind == "report":
        head += [r"\tableofcontents", r"\listoffigures", r"\listoftables"]
    body: list[str] = []
    for node in nodes:
        if node[0] == "part":
            _, level, number, name = node
            if number.isalpha() and level == 0:
                body.append(r"\appendix")
            if number:
                body.append("\\" + levels[level] + "{" + tex(name) + "}")
            elif name not in ("Bibliography", "References"):  # thebibliography writes its own heading
                body += [r"\cleardoublepage" if kind == "report" else "", r"\phantomsection",
                         "\\" + levels[level] + "*{" + tex(name) + "}",
                         r"\addcontentsline{toc}{" + levels[level] + "}{" + tex(name) + "}"]
        elif node[0] == "p":
            body.append(tex(node[1]) + "\n")
        elif node[0] == "eq":
            body.append(r"\begin{equation}" + node[1] + r"\end{equation}")
        elif node[0] == "table":
            _, caption, rows = node
            cols = "l" + "c" * (len(rows[0]) - 1)
            lines = [" & ".join(tex(c) for c in row) + r" \\" for row in rows]
            body.append("\\begin{table}[h]\\centering\\caption{" + tex(caption) + "}\\begin{tabular}{" + cols + "}\\toprule\n"
                        + lines[0] + "\\midrule\n" + "\n".join(lines[1:]) + "\\bottomrule\\end{tabular}\\end{table}")
        elif node[0] == "figure":
            _, caption, labels = node
            # Labels placed on a grid inside a frame, as a plot's ticks or a diagram's boxes are.
            puts = "".join(f"\\put({20 + 60 * (i % 4)},{100 - 18 * (i // 4)}){{\\small {tex(lab)}}}" for i, lab in enumerate(labels))
            body.append("\\begin{figure}[h]\\centering\\setlength{\\unitlength}{1pt}\\begin{picture}(250,120)"
                        "\\put(10,5){\\line(1,0){230}}\\put(10,5){\\line(0,1){110}}" + puts
                        + "\\end{picture}\\caption{" + tex(caption) + "}\\end{figure}")
        elif node[0] == "bib":
            if kind == "report":
                body.append(r"\cleardoublepage\phantomsection\addcontentsline{toc}{chapter}{Bibliography}")
            else:
                body.append(r"\phantomsection\addcontentsline{toc}{section}{References}")
            body.append(r"\begin{thebibliography}{9}" + "".join(f"\\bibitem{{r{i}}} {tex(e)}\n" for i, e in enumerate(node[1]))
                        + r"\end{thebibliography}")
    return "\n".join(head + body + [r"\end{document}", ""])


def writer_html(nodes: list, title: str) -> str:
    """HTML that LibreOffice Writer lays out as a word processor would: numbered heading text,
    Heading 1-3 styles (Writer's bookmarks come from them), a table, figure labels as text."""
    out = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>",
           f"<p style='font-size:20pt'><b>{html.escape(title)}</b></p><p>A. Student</p><p>2021</p>"]
    chapters = 0
    for node in nodes:
        if node[0] == "part":
            _, level, number, name = node
            if level == 0:
                chapters += 1
            page = " style='page-break-before: always'" if level == 0 else ""
            text = f"{number} {name}" if number else name
            if level == 0 and number.isdigit():
                text = f"Chapter {number} {name}"
            out.append(f"<h{level + 1}{page}>{html.escape(text)}</h{level + 1}>")
        elif node[0] == "p":
            out.append(f"<p>{html.escape(node[1])}</p>")
        elif node[0] == "eq":
            out.append(f"<p style='text-align:center'>{html.escape(node[2])}</p>")
        elif node[0] == "table":
            _, caption, rows = node
            cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
            out.append(f"<p><i>Table: {html.escape(caption)}</i></p><table border='1'>{cells}</table>")
        elif node[0] == "figure":
            _, caption, labels = node
            out.append("<p style='font-size:8pt'>" + "<br/>".join(html.escape(lab) for lab in labels) + "</p>")
            out.append(f"<p><i>Figure: {html.escape(caption)}</i></p>")
        elif node[0] == "bib":
            out += [f"<p>[{i}] {html.escape(e)}</p>" for i, e in enumerate(node[1], start=1)]
    return "\n".join(out + ["</body></html>", ""])


def truth(nodes: list, kind: str) -> list[dict]:
    """Each section's heading and the text it holds, in order, as the source defines them."""
    sections: list[dict] = []
    for node in nodes:
        if node[0] == "part":
            _, level, number, name = node
            sections.append({"number": number, "title": name, "level": level, "text": []})
            continue
        if not sections:
            continue
        if node[0] == "p":
            sections[-1]["text"].append(node[1])
        elif node[0] == "eq":
            sections[-1]["text"].append(node[2])
        elif node[0] == "table":
            sections[-1]["text"] += [node[1]] + [" ".join(row) for row in node[2]]
        elif node[0] == "figure":
            sections[-1]["text"] += [node[1], " ".join(node[2])]
        elif node[0] == "bib":
            sections[-1]["text"] += list(node[1])
    return sections


def build_latex(name: str, source: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / f"{name}.tex").write_text(source)
        for _ in range(2):  # the second run writes the contents lists and the bookmarks' pages
            subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                           cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        shutil.copy(Path(tmp) / f"{name}.pdf", out / f"{name}.pdf")


def build_writer(name: str, source: str, out: Path, outline: bool) -> None:
    options = '{"ExportBookmarks":{"type":"boolean","value":"%s"}}' % ("true" if outline else "false")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{name}.html"
        src.write_text(source)
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp}/profile",
                        "--infilter=HTML (StarWriter)", "--convert-to", f"pdf:writer_pdf_Export:{options}",
                        "--outdir", tmp, str(src)], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(Path(tmp) / f"{name}.pdf", out / f"{name}.pdf")


def main() -> None:
    out = HERE
    thesis_tex = latex(THESIS, THESIS_TITLE, "report", outline=True)
    (out / "thesis-latex.tex").write_text(thesis_tex)
    build_latex("thesis-latex", thesis_tex, out)
    build_latex("thesis-latex-nooutline", latex(THESIS, THESIS_TITLE, "report", outline=False), out)
    paper_tex = latex(PAPER, PAPER_TITLE, "paper", outline=True)
    (out / "paper-twocolumn.tex").write_text(paper_tex)
    build_latex("paper-twocolumn", paper_tex, out)
    thesis_html = writer_html(THESIS, THESIS_TITLE)
    (out / "thesis-writer.html").write_text(thesis_html)
    build_writer("thesis-writer", thesis_html, out, outline=True)
    build_writer("thesis-writer-nooutline", thesis_html, out, outline=False)
    docs = {
        "thesis-latex.pdf": "thesis", "thesis-latex-nooutline.pdf": "thesis", "thesis-writer.pdf": "thesis",
        "thesis-writer-nooutline.pdf": "thesis", "paper-twocolumn.pdf": "paper",
    }
    (out / "truth.json").write_text(json.dumps(
        {"documents": docs, "texts": {"thesis": truth(THESIS, "report"), "paper": truth(PAPER, "paper")}}, indent=1))
    for pdf in docs:
        print(f"{pdf}: {(out / pdf).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
