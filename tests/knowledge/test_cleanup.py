from gg_research.knowledge.cleanup import clean_pages, dehyphenate, is_page_number, normalise, remove_running_lines, vocabulary


def test_ligatures_fold_to_plain_letters():
    assert normalise("e\ufb03cient pro\ufb01le \ufb02ow") == "efficient profile flow"


def test_dehyphenation_joins_words_broken_at_line_ends_only():
    text = "defect seg-\nmentation of the G-code toolpath and a state-of-the-art\nmodel"
    out = dehyphenate(text)
    assert "segmentation" in out
    assert "G-code" in out and "state-of-the-art" in out
    # A capitalised continuation is a real compound ("Fig-\nure" is rare; "X-\nRay" is a name).
    assert dehyphenate("X-\nRay") == "X-\nRay"
    assert dehyphenate("Non-\nEuclidean") == "Non-Euclidean"


def test_genuine_compounds_keep_their_hyphen_and_the_document_decides_breaks():
    vocab = vocabulary(["trained on PASCAL VOC images", "a pixels-to-pixels model"])
    text = "a pixels-to-\npixels net on PAS-\nCAL and PAS- CAL; pixels-\nto-pixels; pre- and post-processing"
    out = dehyphenate(text, vocab)
    assert out.count("pixels-to-pixels") == 2
    assert out.count("PASCAL") == 2 and "pre- and post-processing" in out


def test_superscripts_and_subscripts_survive_normalisation():
    assert normalise("crops of 284\u00b2 px, H\u2082O, x\u207f and \ufb01ts") == "crops of 284\u00b2 px, H\u2082O, x\u207f and fits"


def test_chapter_opening_lines_are_not_taken_for_a_running_header():
    pages = [f"Chapter {i}\nTitle {i}\n" + "\n".join(f"Body {i} line {j}." for j in range(8)) + f"\n{i}" for i in range(1, 6)]
    out = remove_running_lines(pages)
    assert all(p.startswith(f"Chapter {i}\n") for i, p in enumerate(out, start=1))


def test_running_header_and_page_numbers_removed_but_body_kept():
    bodies = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    pages = [
        "Doe - GG-Net dissertation\n"
        + "\n".join(f"The {w} paragraph line {j} about {w}." for j in range(8))
        + f"\nLast body line on the {w} page.\n{i}"
        for i, w in enumerate(bodies, start=1)
    ]
    out = remove_running_lines(pages)
    for page, w in zip(out, bodies):
        assert "GG-Net dissertation" not in page
        assert page.strip().splitlines()[-1] == f"Last body line on the {w} page."
        assert page.count(w) == 17


def test_short_pages_keep_their_body():
    pages = [f"Doe - GG-Net dissertation\nOnly line of body {i}.\nSecond line {i}.\n{i}" for i in range(1, 7)]
    out = remove_running_lines(pages)
    for i, page in enumerate(out, start=1):
        assert page.splitlines() == [f"Only line of body {i}.", f"Second line {i}."]


def test_header_with_changing_page_number_is_recognised():
    pages = [f"Chapter 3. Training {10 + i}\nText {i} differs on each page.\nLast line {i}." for i in range(5)]
    out = remove_running_lines(pages)
    assert all("Chapter 3. Training" not in p for p in out)


def test_lines_repeated_on_few_pages_are_kept():
    pages = ["Same line\nbody a", "Same line\nbody b", "Other\nbody c", "Other 2\nbody d", "x\nbody e", "y\nbody f"]
    assert remove_running_lines(pages)[0].startswith("Same line")


def test_page_number_shapes():
    for s in ("12", "- 12 -", "Page 3", "page 3 of 40", "iv", "7/120"):
        assert is_page_number(s), s
    for s in ("12 models", "Chapter 4", "In 2015 we"):
        assert not is_page_number(s), s


def test_word_split_over_a_page_break_is_joined():
    pages = ["first page ends with a trans-", "formation of the image. Then more."]
    out = clean_pages(pages)
    assert out[0].endswith("transformation.") or "transformation" in out[0]
    assert not out[1].startswith("formation")


def test_a_chapter_header_repeats_only_over_its_chapter():
    # 20 pages; "CHAPTER 3. METHOD <n>" heads just pages 5-7 (far below any share of the document).
    topics = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon".split()
    pages = []
    for i in range(1, 21):
        head = f"CHAPTER 3. METHOD {i}" if 5 <= i <= 7 else f"Unique opening line about {topics[i - 1]}"
        body = "\n".join(f"Body line {j} of page {i} with distinct words {i * j}." for j in range(8))
        pages.append(f"{head}\n{body}")
    out = remove_running_lines(pages)
    assert not any("CHAPTER 3. METHOD" in p for p in out)
    assert all("Unique opening line" in p for n, p in enumerate(out, start=1) if not 5 <= n <= 7)
