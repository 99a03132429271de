"""The explorers and animations: controls drive the same results as srmlib, drawn as claimed."""

from __future__ import annotations

import math

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest

import srmlib
from srmlib import plotting, widgets

D = 5
MAX_ANIMATION_BYTES = 2_000_000


@pytest.fixture(scope="module")
def x():
    z = np.random.default_rng(0).standard_normal((1500, D))
    return np.maximum(z - 0.3, 0.0)[np.maximum(z - 0.3, 0.0).any(axis=1)]


@pytest.fixture(scope="module")
def custom_basis():
    return srmlib.overcomplete_basis(7, D, seed=0)


@pytest.fixture
def explorer(x):
    return widgets.SRMExplorer(x, epsilon=0.8, resolution=36)


def artist(ax, gid):
    found = [a for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r} on {ax.name} axes, found {len(found)}"
    return found[0]


def linear_and_polar(ex):
    linear, polar = ex.figure.axes
    assert linear.name == "rectilinear" and polar.name == "polar"
    return linear, polar


def assert_same_result(got, want):
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.angles, want.angles)
    np.testing.assert_array_equal(got.planes, want.planes)
    assert (got.epsilon, got.signed, got.pairs, got.n_samples, got.basis_size) == (
        want.epsilon, want.signed, want.pairs, want.n_samples, want.basis_size)


def test_initial_result_is_srmlibs(explorer, x):
    assert_same_result(explorer.result, srmlib.spotlight_resonance(x, epsilon=0.8, resolution=36))
    assert set(explorer.controls) == {"epsilon", "resolution", "view", "signed", "pairs", "basis",
                                      "seed"}
    assert [value for _, value in explorer.controls["basis"].options] == ["standard", "rotated"]


@pytest.mark.parametrize("name, value", [
    ("epsilon", 0.5), ("resolution", 20), ("signed", True), ("pairs", "perm"),
])
def test_each_control_gives_srmlibs_result(explorer, x, name, value):
    settings = {"epsilon": 0.8, "resolution": 36, "signed": False, "pairs": "comb", name: value}
    explorer.controls[name].value = value
    assert_same_result(explorer.result, srmlib.spotlight_resonance(x, **settings))


def test_rotated_basis_uses_random_rotation_with_the_seed(explorer, x):
    assert explorer.controls["seed"].disabled
    explorer.controls["basis"].value = "rotated"
    assert not explorer.controls["seed"].disabled
    rotated = srmlib.random_rotation(D, 0)
    assert_same_result(explorer.result,
                       srmlib.spotlight_resonance(x, rotated, epsilon=0.8, resolution=36))
    explorer.controls["seed"].value = 3
    rotated = srmlib.random_rotation(D, 3)
    assert_same_result(explorer.result,
                       srmlib.spotlight_resonance(x, rotated, epsilon=0.8, resolution=36))
    explorer.controls["basis"].value = "standard"
    assert_same_result(explorer.result, srmlib.spotlight_resonance(x, epsilon=0.8, resolution=36))


def test_custom_basis_is_the_default_when_given(x, custom_basis):
    ex = widgets.SRMExplorer(x, custom_basis, epsilon=0.7, resolution=24, signed=True)
    assert ex.controls["basis"].value == "custom"
    want = srmlib.spotlight_resonance(x, custom_basis, epsilon=0.7, resolution=24, signed=True)
    assert_same_result(ex.result, want)
    assert len(ex.result.planes) == 21
    ex.controls["basis"].value = "standard"
    assert len(ex.result.planes) == 10
    ex = widgets.SRMExplorer(x, custom_basis, basis_choice="rotated", rotation_seed=2,
                             resolution=24)
    assert_same_result(ex.result, srmlib.spotlight_resonance(
        x, srmlib.random_rotation(D, 2), epsilon=0.9, resolution=24))


def test_a_subset_of_planes(x):
    ex = widgets.SRMExplorer(x, resolution=24, max_planes=4, seed=1)
    assert_same_result(ex.result, srmlib.spotlight_resonance(x, resolution=24, max_planes=4,
                                                             seed=1))
    assert len(ex.controls["view"].options) == 2 + 4


def test_mean_view_draws_mean_and_band(explorer):
    res = explorer.result
    for ax in linear_and_polar(explorer):
        np.testing.assert_array_equal(artist(ax, "curve").get_ydata()[:-1], res.mean())
        assert artist(ax, "curve").get_xdata()[-1] == pytest.approx(2 * math.pi)
        band = artist(ax, "band").get_paths()[0].vertices[:, 1]
        assert band.min() == pytest.approx((res.mean() - res.std()).min())
        assert band.max() == pytest.approx((res.mean() + res.std()).max())
        assert not artist(ax, "planes").get_visible()


def test_ensemble_view_draws_every_plane(explorer):
    explorer.controls["view"].value = "ensemble"
    res = explorer.result
    for ax in linear_and_polar(explorer):
        segments = artist(ax, "planes").get_segments()
        assert artist(ax, "planes").get_visible()
        assert len(segments) == len(res.planes)
        np.testing.assert_array_equal(np.stack([s[:-1, 1] for s in segments]), res.values)
        assert not artist(ax, "curve").get_visible()
        assert not [c for c in ax.collections if c.get_gid() == "band"]


def test_one_plane_view_and_its_menu(explorer):
    explorer.controls["view"].value = (1, 3)
    for ax in linear_and_polar(explorer):
        np.testing.assert_array_equal(artist(ax, "curve").get_ydata()[:-1],
                                      explorer.result.plane(1, 3))
    assert "plane (1, 3)" in explorer.figure.axes[0].get_title()
    explorer.controls["epsilon"].value = 0.6  # the view survives a recount
    np.testing.assert_array_equal(artist(explorer.figure.axes[0], "curve").get_ydata()[:-1],
                                  explorer.result.plane(1, 3))
    explorer.controls["pairs"].value = "perm"
    explorer.controls["view"].value = (3, 1)  # only an ordered pair
    np.testing.assert_array_equal(artist(explorer.figure.axes[0], "curve").get_ydata()[:-1],
                                  explorer.result.plane(3, 1))
    explorer.controls["pairs"].value = "comb"  # (3, 1) is gone: back to the mean
    assert explorer.controls["view"].value == "mean"
    np.testing.assert_array_equal(artist(explorer.figure.axes[0], "curve").get_ydata()[:-1],
                                  explorer.result.mean())


def test_baseline_is_isotropic_or_zero(explorer):
    for ax in linear_and_polar(explorer):
        np.testing.assert_array_equal(artist(ax, "baseline").get_ydata(),
                                      explorer.result.isotropic_baseline)
    assert explorer.result.isotropic_baseline > 0
    explorer.controls["signed"].value = True
    for ax in linear_and_polar(explorer):
        np.testing.assert_array_equal(artist(ax, "baseline").get_ydata(), 0.0)
    linear, polar = linear_and_polar(explorer)
    assert "signed" in linear.get_ylabel()
    assert polar.get_ylim()[0] < 0 < polar.get_ylim()[1]  # negative values fit inside the zero ring


def test_half_angle_label_and_titles_follow_epsilon(explorer):
    assert explorer.epsilon_label.value == "cone half-angle 36.9°"
    explorer.controls["epsilon"].value = 0.5
    assert explorer.epsilon_label.value == "cone half-angle 60.0°"
    title = explorer.figure._suptitle.get_text()
    assert "ε = 0.500" in title and "60.0°" in title and "1.05 rad" in title
    spotlight = artist(explorer.figure.axes[1], "spotlight").get_xy()[:, 0]
    assert spotlight.max() - spotlight.min() == pytest.approx(2 * math.acos(0.5))


def test_epsilon_resolution_signed_and_view_never_reproject(explorer, monkeypatch):
    calls = []
    prepare = srmlib.srm._prepare
    monkeypatch.setattr(srmlib.srm, "_prepare", lambda *a: calls.append(a) or prepare(*a))
    changes = [("epsilon", 0.4), ("resolution", 12), ("signed", True), ("view", "ensemble"),
               ("view", (0, 2)), ("signed", False), ("seed", 5)]  # seed: standard basis
    for name, value in changes:
        explorer.controls[name].value = value
    assert calls == []
    explorer.controls["pairs"].value = "perm"
    explorer.controls["basis"].value = "rotated"
    assert len(calls) == 2
    explorer.controls["pairs"].value = "comb"
    explorer.controls["basis"].value = "standard"
    assert len(calls) == 3  # (standard, comb) was cached; (rotated, seed 5, comb) was not


def test_figure_is_labelled_white_and_rendered_into_the_widget(explorer):
    linear, polar = linear_and_polar(explorer)
    assert linear.get_title() and polar.get_title()
    assert "rad" in linear.get_xlabel() and "fraction" in linear.get_ylabel()
    assert polar.get_xlabel()
    assert [t.get_text() for t in linear.get_xticklabels()] == [
        "$0$", r"$\pi/2$", r"$\pi$", r"$3\pi/2$", r"$2\pi$"]
    assert mcolors.to_rgba(explorer.figure.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    assert artist(linear, "curve").get_color() == plotting.OKABE_ITO["blue"]
    images = [w for w in explorer.widget.children if w.__class__.__name__ == "Image"]
    assert len(images) == 1 and bytes(images[0].value).startswith(b"\x89PNG")
    before = bytes(images[0].value)
    explorer.controls["epsilon"].value = 0.3
    assert bytes(images[0].value) != before
    assert 0 < explorer.last_redraw_seconds < 30
    assert plt.get_fignums() == []  # never registered with pyplot: no stray static copy


def test_pppm_explorer_shows_srmlibs_projections(x, custom_basis):
    px = widgets.PPPMExplorer(x, epsilon=0.8)
    offsets = px.figure.axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(offsets, srmlib.pppm(x, epsilon=0.8).in_plane(0, 1))
    px.controls["epsilon"].value = 0.6
    px.controls["plane"].value = (2, 4)
    np.testing.assert_array_equal(px.figure.axes[0].collections[0].get_offsets(),
                                  srmlib.pppm(x, epsilon=0.6).in_plane(2, 4))
    np.testing.assert_array_equal(px.result.in_plane(2, 4),
                                  srmlib.pppm(x, epsilon=0.6).in_plane(2, 4))
    assert "ε = 0.600" in px.figure.axes[0].get_title()
    assert "53.1°" in px.epsilon_label.value
    px.controls["kind"].value = "hexbin"
    assert len(px.figure.axes) == 2  # the hexbin and its colour bar
    px = widgets.PPPMExplorer(x, custom_basis, epsilon=0.7, plane=(5, 2))
    np.testing.assert_array_equal(px.result.in_plane(5, 2),
                                  srmlib.pppm(x, custom_basis, epsilon=0.7, pairs="perm")
                                  .in_plane(5, 2))
    assert plt.get_fignums() == []


def frame_count(html: str) -> int:
    return html.count("data:image/png;base64")


def assert_offline(html: str):
    """The website must work without internet: no outside URL, no icon font left unstyled."""
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert 'class="fa ' not in html
    assert "▶" in html and "❚❚" in html  # play and pause buttons have visible labels


def test_epsilon_animation_is_a_small_player(x):
    html = widgets.epsilon_animation(x, epsilons=[0.5, 0.7, 0.9], resolution=24).data
    assert 'type="range"' in html and "new Array(3)" in html
    assert frame_count(html) == 3
    assert_offline(html)
    html = widgets.epsilon_animation(x, view="ensemble", pairs="perm").data  # the default frames
    assert frame_count(html) == len(widgets._check_epsilons(None)) >= 12
    assert len(html.encode()) < MAX_ANIMATION_BYTES
    assert plt.get_fignums() == []


def test_pppm_animation_is_a_small_player(x):
    html = widgets.pppm_animation(x, plane=(1, 2), kind="hexbin").data
    assert 'type="range"' in html
    assert frame_count(html) == len(widgets._check_epsilons(None))
    assert_offline(html)
    assert len(html.encode()) < MAX_ANIMATION_BYTES
    assert plt.get_fignums() == []


@pytest.mark.parametrize("call, error, match", [
    (lambda x: widgets.SRMExplorer(x[:, 0]), ValueError, "activations must be 2-dimensional"),
    (lambda x: widgets.SRMExplorer(x, epsilon=1.5), ValueError, "epsilon must satisfy"),
    (lambda x: widgets.SRMExplorer(x, resolution=0), ValueError, "resolution must be at least"),
    (lambda x: widgets.SRMExplorer(x, signed="yes"), TypeError, "signed must be True or False"),
    (lambda x: widgets.SRMExplorer(x, pairs="all"), ValueError, "pairs must be one of"),
    (lambda x: widgets.SRMExplorer(x, view="median"), ValueError, "view must be one of"),
    (lambda x: widgets.SRMExplorer(x, view=(0, 9)), ValueError, r"view: plane \(0, 9\)"),
    (lambda x: widgets.SRMExplorer(x, view=1.0), TypeError, "view must be"),
    (lambda x: widgets.SRMExplorer(x, basis_choice="custom"), ValueError, "needs a basis"),
    (lambda x: widgets.SRMExplorer(x, basis_choice="mine"), ValueError, "basis_choice must be"),
    (lambda x: widgets.SRMExplorer(x, rotation_seed=-1), ValueError, "rotation_seed must be"),
    (lambda x: widgets.SRMExplorer(x, max_planes=0), ValueError, "max_planes must be"),
    (lambda x: widgets.SRMExplorer(x, np.eye(3)), ValueError, "basis has vectors of dimension"),
    (lambda x: widgets.PPPMExplorer(x, kind="pie"), ValueError, "kind must be one of"),
    (lambda x: widgets.PPPMExplorer(x, plane="01"), TypeError, "plane must be a pair"),
    (lambda x: widgets.PPPMExplorer(x, plane=(1, 1)), ValueError, "with itself"),
    (lambda x: widgets.epsilon_animation(x, epsilons=[0.5, 2.0]), ValueError, "epsilons must"),
    (lambda x: widgets.epsilon_animation(x, fps=0), ValueError, "fps must be positive"),
    (lambda x: widgets.epsilon_animation(x, view=(0, 9)), ValueError, "view: plane"),
    (lambda x: widgets.pppm_animation(x, epsilons="0.5"), TypeError, "epsilons must"),
    (lambda x: widgets.pppm_animation(x, dpi=2.5), TypeError, "dpi must be an integer"),
])
def test_bad_arguments_raise(x, call, error, match):
    with pytest.raises(error, match=match):
        call(x)
