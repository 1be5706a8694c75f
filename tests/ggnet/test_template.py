"""The baseline train.py template: search annotations, the model contract, and that it learns."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest
import torch

from gg_research.ggnet.output import GGOutput
from tests.harness.standin import TEMPLATE, TINY, load_template, make_ctx, make_step_ctx, standin_items

SEARCH = re.compile(r"^([A-Z][A-Z0-9_]*) = (.+?)\s+# search: (log|float|int|choice)\((.*)\)\s*$")
KNOBS = {
    "LR", "STN_LR", "WEIGHT_DECAY", "BATCH_SIZE", "SCHEDULE", "WARMUP", "STN_WARMUP_FRACTION",
    "ALIGN_LOSS_WEIGHT", "SEG_LOSS_WEIGHT", "SEG_LOSS", "MAX_ROTATION_DEG", "MAX_SCALE_DELTA",
    "MAX_TRANSLATION", "MAX_PERSPECTIVE", "STN_REG_WEIGHT", "GRAD_CLIP", "ENCODER", "ENCODER_DEPTH",
    "DECODER_CHANNELS", "DROPOUT", "FUSION",
}


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


def test_search_annotations_parse_and_hold_their_defaults() -> None:
    found = {}
    for line in TEMPLATE.read_text().splitlines():
        if "# search:" not in line:
            continue
        m = SEARCH.match(line)
        assert m, f"malformed search annotation: {line!r}"
        name, default, kind, args = m.groups()
        value = ast.literal_eval(default)
        bounds = ast.literal_eval(f"({args},)")
        if kind == "choice":
            assert value in bounds, name
        else:
            lo, hi = bounds
            assert lo < hi and lo <= value <= hi, name
            if kind == "log":
                assert lo > 0, name
            if kind == "int":
                assert all(isinstance(x, int) for x in (lo, hi, value)), name
        found[name] = value
    assert KNOBS <= set(found), KNOBS - set(found)


def test_model_starts_at_identity_and_honours_the_output_contract(tmp_path: Path) -> None:
    m = load_template(tmp_path / "t.py", TINY)
    torch.manual_seed(0)
    model = m.GGNet().eval()
    cam, ren = torch.rand(2, 3, 64, 64), torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        out = model(cam, ren)
    assert isinstance(out, GGOutput)
    assert out.mask_logits.shape == (2, 1, 64, 64)
    assert torch.allclose(out.theta, torch.eye(3).expand(2, 3, 3), atol=1e-6)
    assert torch.allclose(out.aux["warped"], ren, atol=1e-5)  # identity warp leaves the render as it is


def test_stn_transform_stays_within_its_constraints(tmp_path: Path) -> None:
    m = load_template(tmp_path / "t.py", {**TINY, "MAX_ROTATION_DEG": "10.0", "MAX_TRANSLATION": "0.2", "MAX_PERSPECTIVE": "0.0"})
    raw = torch.full((1, 7), 50.0)  # saturates every tanh at +1
    th = m.params_to_theta(raw)[0]
    assert th[0, 2].item() == pytest.approx(0.2) and th[1, 2].item() == pytest.approx(0.2)
    assert th[2, 0].item() == 0.0 and th[2, 1].item() == 0.0
    scale_x = math.hypot(th[0, 0].item(), th[1, 0].item())
    assert scale_x == pytest.approx(1 + m.MAX_SCALE_DELTA)
    assert math.degrees(math.atan2(th[1, 0].item(), th[0, 0].item())) == pytest.approx(10.0)


def test_grid_point_error_is_zero_for_equal_transforms_and_the_shift_otherwise(tmp_path: Path) -> None:
    m = load_template(tmp_path / "t.py", TINY)
    a = torch.eye(3)[None]
    b = a.clone()
    b[0, 0, 2] = 0.3
    assert m.grid_point_error(a, a).item() == pytest.approx(0.0)
    assert m.grid_point_error(a, b).item() == pytest.approx(0.3, rel=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        {"FUSION": '"gated"', "SEG_LOSS": '"focal"', "SCHEDULE": '"warm_restarts"'},
        {"SEG_LOSS": '"bce"', "SCHEDULE": '"constant"', "STN_WARMUP_FRACTION": "0.5", "GRAD_CLIP": "0.0"},
    ],
    ids=["gated-focal-restarts", "bce-constant-staged"],
)
def test_other_choices_train_too(tmp_path: Path, overrides: dict[str, str]) -> None:
    m = load_template(tmp_path / "t.py", {**TINY, **overrides})
    ctx = make_ctx(standin_items(8), 1.0, tmp_path)
    ctx.start_clock()
    model = m.train(ctx)
    assert isinstance(model, torch.nn.Module)
    assert ctx.num_steps >= 1 and ctx.images_trained() >= 4


def test_training_stops_at_the_budget(tmp_path: Path) -> None:
    m = load_template(tmp_path / "t.py", TINY)
    ctx = make_ctx(standin_items(8), 1.5, tmp_path)
    ctx.start_clock()
    m.train(ctx)
    # One step may finish after the deadline, not a whole epoch.
    assert 1.5 <= ctx.elapsed() < 1.5 + 5.0


def test_lr_schedule_shapes(tmp_path: Path) -> None:
    m = load_template(tmp_path / "t.py", {**TINY, "WARMUP": "0.1"})
    assert m.lr_factor(0.05) == pytest.approx(0.5)
    assert m.lr_factor(0.1) == pytest.approx(1.0)
    assert m.lr_factor(1.0) == pytest.approx(0.0, abs=1e-9)
    r = load_template(tmp_path / "r.py", {**TINY, "WARMUP": "0.0", "SCHEDULE": '"warm_restarts"', "RESTART_PERIOD": "0.25"}, name="tpl_r")
    assert r.lr_factor(0.24) < 0.05 and r.lr_factor(0.26) > 0.95


@pytest.mark.slow
def test_template_learns_well_beyond_its_initialisation(tmp_path: Path) -> None:
    # Step-counted budget: the outcome does not depend on how busy the machine is.
    from gg_research.harness.evaluate import evaluate

    train, val = standin_items(32, seed=1), standin_items(12, seed=2)
    m = load_template(tmp_path / "t.py", TINY)
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    before = evaluate(m.GGNet(), val, cpu, 16)
    torch.manual_seed(0)
    ctx = make_step_ctx(train, 120, tmp_path)
    after = evaluate(m.train(ctx), val, cpu, 16)
    assert ctx.num_steps == 120
    assert after["pbqc"] > before["pbqc"] + 0.03, (before, after)
    assert after["dice"] > before["dice"] + 0.3, (before, after)


def test_the_unet_sits_out_the_stn_warm_up_untouched(tmp_path: Path) -> None:
    # Zero gradients would still advance AdamW's step count and decay the weights; no gradient does neither.
    m = load_template(tmp_path / "t.py", {**TINY, "STN_WARMUP_FRACTION": "1.0"})
    torch.manual_seed(0)
    fresh = m.GGNet()
    ctx = make_step_ctx(standin_items(8), 3, tmp_path)
    torch.manual_seed(0)  # train() builds its model first, so from the same initial weights
    trained = m.train(ctx)
    fresh_state, trained_state = fresh.state_dict(), trained.state_dict()
    stn = [k for k in fresh_state if k.startswith("stn.")]
    assert stn and any(not torch.equal(fresh_state[k], trained_state[k]) for k in stn)
    for k, v in fresh_state.items():
        if not k.startswith("stn.") and v.is_floating_point() and "running" not in k:
            assert torch.equal(v, trained_state[k]), k
