from gg_research.knowledge.sections import detect_heading, page_blocks


def test_numbered_headings_are_detected():
    assert detect_heading("3.3.4 Training schedule") == ("3.3.4", "Training schedule")
    assert detect_heading("2 Related work") == ("2", "Related work")
    assert detect_heading("A.1 Hyperparameters") == ("A.1", "Hyperparameters")
    assert detect_heading("Chapter 3 Method") == ("Chapter 3", "Method")
    assert detect_heading("CHAPTER IV: Results") == ("Chapter IV", "Results")
    assert detect_heading("References") == ("", "References")


def test_body_lines_are_not_headings():
    for line in (
        "3 epochs were used for the warm-up phase of the network and then the rest.",
        "2 The model converged.",
        "1 0.61 0.58 0.44",
        "In 2019 we started",
        "the spatial transformer",
        "120 Results of everything",
        "4 CARD32 N_ALIASES",
    ):
        assert detect_heading(line) is None, line


def test_blocks_carry_their_section_across_pages():
    pages = [
        "Chapter 3\nTraining\nIntro text of the chapter.\n3.1 Schedule\nThe schedule text starts here and",
        "continues on the next page.\n3.2 Losses\nLoss text.",
    ]
    blocks = page_blocks(pages)
    assert [(b.page, b.section) for b in blocks] == [
        (1, "Chapter 3 Training"),
        (1, "3.1 Schedule"),
        (2, "3.1 Schedule"),
        (2, "3.2 Losses"),
    ]
    # The paragraph running over the page break is not closed on page 1.
    assert blocks[1].paragraph_end is False


def test_a_section_number_seen_again_is_not_a_new_section():
    pages = [
        "3 Method\nIntro of the method.\n3.1 Schedule\nSchedule text.",
        "Chapter 3 Method 41\nMore schedule text.\n3.2 Losses\nLoss text.",
        "3.1 Schedule\nStill the losses section, the line above is a running header.",
    ]
    blocks = page_blocks(pages)
    assert [(b.page, b.section) for b in blocks] == [
        (1, "3 Method"), (1, "3.1 Schedule"), (2, "3.1 Schedule"), (2, "3.2 Losses"), (3, "3.2 Losses"),
    ]


def test_contents_references_and_headers_with_page_numbers_are_not_headings():
    for line in (
        "2.1 Spatial transformer . . . . . . . . . . 12",
        "3.2 Results on the test set 41",
        "9 Long, J., Shelhamer, E., Darrell, T.: Fully convolutional networks",
        "Chapter 2 Method ........ 7",
        "Learning rate: 3e-4 | Epochs: 30 | Dice: 0.836",
    ):
        assert detect_heading(line) is None, line


def test_numbering_out_of_sequence_is_body_text():
    pages = [
        "Chapter 3\nTraining\nIntro text.\n3.1 Schedule\nSchedule text.\n36 Year 1 Activity\nMore schedule.\n"
        "11 Other\nStill schedule.\n1 Print the part\n4 Photograph the layer\n3.2 Losses\nLoss text.",
        "References\n[1] A paper.\n28 November 2021]\nA. Upper Bounds on IU\nBound text.\nB More Results\nMore.",
    ]
    sections = [b.section for b in page_blocks(pages)]
    assert list(dict.fromkeys(sections)) == [
        "Chapter 3 Training", "3.1 Schedule", "3.2 Losses", "References", "A Upper Bounds on IU", "B More Results"
    ]


def test_a_lettered_line_in_the_body_is_not_an_appendix():
    blocks = page_blocks(["1 Method\nA Study of toolpaths was made.\nA Simple Baseline\nIt is simple."])
    assert {b.section for b in blocks} == {"1 Method"}


def test_a_numbered_line_followed_by_the_current_chapters_numbering_is_not_a_chapter():
    # As in a real file-format spec: table rows between sections 2.9 and 2.10 start with a number.
    pages = [
        "2.9. The cache files\nThe cache holds the globs.\n4 CARD32 WEIGHT in lower 8 bits\nFLAGS in rest.",
        "4 CARD32 WEIGHT in lower 8 bits\n2.10. Extended attributes\nSome text.\n3. Contributors\nNames.\n"
        "3.1 Thanks\nMore names.",
    ]
    sections = [b.section for b in page_blocks(pages)]
    assert list(dict.fromkeys(sections)) == ["2.9 The cache files", "2.10 Extended attributes", "3 Contributors", "3.1 Thanks"]


def test_a_chapter_that_skips_a_number_is_still_a_chapter_when_its_own_sections_follow():
    pages = ["2.3 Last of two\nText.\n4 Results\nThe results.\n4.1 Dice\nDice text."]
    sections = [b.section for b in page_blocks(pages)]
    assert list(dict.fromkeys(sections)) == ["2.3 Last of two", "4 Results", "4.1 Dice"]
