"""Figures: titles, labels, pi ticks, line counts, white backgrounds, and errors for bad input."""

from __future__ import annotations

import matplotlib
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest

import srmlib
from srmlib import plotting
from tests.figure_checks import PI_LABELS, assert_labelled



@pytest.fixture(scope="module")
def result():
    x = np.tanh(2 * np.random.default_rng(0).standard_normal((2000, 4)))
    return srmlib.spotlight_resonance(x, epsilon=0.6, resolution=24)


@pytest.fixture(scope="module")
def signed_result():
    x = np.random.default_rng(1).standard_normal((500, 3))
    return srmlib.spotlight_resonance(x, epsilon=0.6, resolution=16, signed=True)



def test_ensemble_has_one_line_per_plane_and_a_baseline(result):
    ax = plotting.plot_srm_ensemble(result)
    assert_labelled(ax)
    assert len(ax.lines) == len(result.planes) + 1
    baseline = ax.lines[-1]
    np.testing.assert_allclose(baseline.get_ydata(), result.isotropic_baseline)
    # closed curves: the first point repeated at 2 pi
    first = ax.lines[0]
    assert first.get_xdata()[-1] == pytest.approx(2 * np.pi)
    assert first.get_ydata()[-1] == first.get_ydata()[0]
    assert ax.get_legend() is not None


def test_ensemble_without_baseline_and_on_given_axes(result):
    fig, ax = plt.subplots()
    assert plotting.plot_srm_ensemble(result, ax, baseline=False, title="mine") is ax
    assert len(ax.lines) == len(result.planes)
    assert ax.get_title() == "mine"


def test_statistics_mean_band_extremes_and_baseline(result):
    ax = plotting.plot_srm_statistics(result)
    assert_labelled(ax)
    assert len(ax.lines) == 4  # mean, min, max, baseline
    assert len(ax.collections) == 1  # the +-1 std band
    mean_line = ax.lines[0]
    np.testing.assert_allclose(mean_line.get_ydata()[:-1], result.mean())
    np.testing.assert_allclose(ax.lines[1].get_ydata()[:-1], result.values.min(axis=0))
    np.testing.assert_allclose(ax.lines[2].get_ydata()[:-1], result.values.max(axis=0))


def test_statistics_with_quantiles(result):
    ax = plotting.plot_srm_statistics(result, spread=(0.1, 0.9))
    np.testing.assert_allclose(ax.lines[1].get_ydata()[:-1],
                               np.quantile(result.values, 0.1, axis=0))
    assert "10% and 90% quantiles" in ax.get_legend().get_texts()[2].get_text()


def test_signed_result_uses_zero_baseline(signed_result):
    ax = plotting.plot_srm_statistics(signed_result)
    assert "signed" in ax.get_ylabel()
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), 0.0)


def test_unsorted_angles_are_drawn_in_order(result):
    x = np.random.default_rng(2).standard_normal((300, 3))
    res = srmlib.spotlight_resonance(x, epsilon=0.5, angles=[3.0, -1.0, 7.0, 0.5])
    ax = plotting.plot_srm_ensemble(res)
    xs = ax.lines[0].get_xdata()
    assert np.all(np.diff(xs) > 0) and xs[0] >= 0 and xs[-1] <= 4 * np.pi


def test_comparison_lines_and_ratio(result):
    other = srmlib.spotlight_resonance(
        np.random.default_rng(3).standard_normal((800, 4)), epsilon=0.3, resolution=24)
    ax = plotting.plot_srm_comparison({"tanh": result, "gauss": other})
    assert_labelled(ax)
    assert len(ax.lines) == 2 + 2  # two means, two distinct baselines
    ax = plotting.plot_srm_comparison({"tanh": result, "gauss": other}, ratio=True)
    assert len(ax.lines) == 2 + 1  # one shared reference line at 1
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), 1.0)
    assert "ratio" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["tanh", "gauss"]


def test_polar_plane_and_mean(result):
    ax = plotting.plot_srm_polar(result)
    assert ax.name == "polar"
    assert ax.get_title() and ax.get_xlabel()
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[1].get_ydata(), result.isotropic_baseline)
    np.testing.assert_allclose(ax.lines[0].get_ydata()[:-1], result.mean())
    assert [t.get_text() for t in ax.get_xticklabels()] == PI_LABELS[:-1]
    ax = plotting.plot_srm_polar(result, (1, 3))
    np.testing.assert_allclose(ax.lines[0].get_ydata()[:-1], result.plane(1, 3))
    assert "(1, 3)" in ax.get_title()


def test_isotropic_expectation_plot():
    ax = plotting.plot_isotropic_expectation([2, 8, 64])
    assert_labelled(ax, angle_axis=False)
    assert len(ax.lines) == 3
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[1].get_ydata()[400], srmlib.isotropic_expectation(8, 0.0))
    ax = plotting.plot_isotropic_expectation([2, 8, 64], fraction=0.01, log=False)
    assert len(ax.lines) == 3 + 3 + 1  # curves, one marker per curve, the fraction line
    marker = ax.lines[1]
    assert marker.get_xdata()[0] == pytest.approx(srmlib.epsilon_for_isotropic_fraction(2, 0.01))
    assert ax.get_yscale() == "linear"


def test_pppm_scatter_and_hexbin():
    x = np.maximum(np.random.default_rng(4).standard_normal((2000, 4)) - 0.5, 0)
    x = x[x.any(axis=1)]
    res = srmlib.pppm(x, epsilon=0.8, planes=[(0, 1), (2, 3)])
    ax = plotting.plot_pppm(res, (0, 1))
    assert_labelled(ax, angle_axis=False)
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, res.in_plane(0, 1))
    assert len(ax.lines) == 2  # b_i and b_j directions
    assert "(0, 1)" in ax.get_title()
    ax = plotting.plot_pppm(res, (2, 3), kind="hexbin")
    assert len(ax.figure.axes) == 2  # with a colour bar
    assert ax.get_aspect() == 1.0


def test_cone_geometry():
    ax = plotting.plot_cone_geometry(0.8, np.pi / 5)
    assert_labelled(ax, angle_axis=False)
    assert len(ax.patches) >= 3  # cone wedge, arrows, angle arc
    ax = plotting.plot_cone_geometry(0.7, 1.0, basis_angle=1.2, sample=(0.6, 0.5))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("sample" in label for label in labels)
    assert any("probe angles that see it" in label for label in labels)
    ax = plotting.plot_cone_geometry(0.9, 1.0, sample=(0.3, 0.2))  # r < epsilon: no arc
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("probe angles" in label for label in labels)


def test_set_angle_ticks_on_y_axis():
    fig, ax = plt.subplots()
    plotting.set_angle_ticks(ax, "y")
    assert [t.get_text() for t in ax.get_yticklabels()] == PI_LABELS
    with pytest.raises(ValueError, match="axis must be"):
        plotting.set_angle_ticks(ax, "z")


@pytest.mark.parametrize("plot", [plotting.plot_srm_statistics, plotting.plot_srm_ensemble])
def test_a_dark_user_style_still_gives_a_light_opaque_figure(result, plot):
    with plt.style.context("dark_background"):
        ax = plot(result)
    assert mcolors.to_rgba(ax.figure.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    assert mcolors.to_rgba(ax.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    assert mcolors.to_rgba(ax.title.get_color())[:3] == (0.0, 0.0, 0.0)


def test_colours_are_okabe_ito(result):
    ax = plotting.plot_srm_comparison({"a": result, "b": result})
    assert ax.lines[0].get_color() == plotting.OKABE_ITO["blue"]
    assert ax.lines[1].get_color() == plotting.OKABE_ITO["orange"]


BAD = [
    (plotting.plot_srm_ensemble, ("not a result",), {}, TypeError, "result must be an SRMResult"),
    (plotting.plot_srm_ensemble, ("RESULT",), {"ax": "axes"}, TypeError, "ax must be a matplotlib"),
    (plotting.plot_srm_ensemble, ("RESULT",), {"baseline": "yes"}, TypeError,
     "baseline must be True or False"),
    (plotting.plot_srm_statistics, ("RESULT",), {"spread": "iqr"}, ValueError, "spread must be"),
    (plotting.plot_srm_statistics, ("RESULT",), {"spread": (0.9, 0.1)}, ValueError,
     "spread quantiles"),
    (plotting.plot_srm_comparison, ({},), {}, TypeError, "results must be a non-empty mapping"),
    (plotting.plot_srm_comparison, ({"a": 1},), {}, TypeError, r"results\['a'\] must be"),
    (plotting.plot_srm_polar, ("RESULT", "01"), {}, TypeError, "plane must be a pair"),
    (plotting.plot_srm_polar, ("RESULT", (0, 9)), {}, ValueError, r"plane \(0, 9\)"),
    (plotting.plot_srm_polar, ("SIGNED",), {}, ValueError, "result must be unsigned"),
    (plotting.plot_isotropic_expectation, (8,), {}, TypeError, "n_dims must be an iterable"),
    (plotting.plot_isotropic_expectation, ([1, 8],), {}, ValueError, "n_dims must be at least 2"),
    (plotting.plot_isotropic_expectation, ([],), {}, ValueError, "at least one dimension"),
    (plotting.plot_isotropic_expectation, ([8],), {"fraction": 1.0}, ValueError,
     r"fraction must lie in \(0, 1\)"),
    (plotting.plot_pppm, ("RESULT", (0, 1)), {}, TypeError, "result must be a PPPMResult"),
    (plotting.plot_cone_geometry, (1.5, 0.0), {}, ValueError, "epsilon must satisfy"),
    (plotting.plot_cone_geometry, (0.5, "x"), {}, TypeError, "theta must be a real number"),
    (plotting.plot_cone_geometry, (0.5, 0.0), {"basis_angle": 0.0}, ValueError,
     "basis_angle must lie strictly"),
    (plotting.plot_cone_geometry, (0.5, 0.0), {"sample": (1.0, 1.0)}, ValueError,
     "sample must have"),
    (plotting.plot_cone_geometry, (0.5, 0.0), {"sample": 0.3}, TypeError, "sample must be a pair"),
]


@pytest.mark.parametrize("function, args, kwargs, error, message", BAD,
                         ids=[f"{b[0].__name__}-{b[4][:20]}" for b in BAD])
def test_bad_input_raises_naming_the_argument(function, args, kwargs, error, message, result,
                                              signed_result):
    stand_in = {"RESULT": result, "SIGNED": signed_result}
    args = tuple(stand_in.get(a, a) if isinstance(a, str) else a for a in args)
    with pytest.raises(error, match=message):
        function(*args, **kwargs)


def test_polar_needs_polar_axes_and_cartesian_plots_refuse_polar(result):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="ax must be a polar Axes"):
        plotting.plot_srm_polar(result, ax=ax)
    fig = plt.figure()
    polar = fig.add_subplot(projection="polar")
    with pytest.raises(ValueError, match="Cartesian"):
        plotting.plot_srm_ensemble(result, polar)


def test_pppm_bad_plane_and_kind():
    res = srmlib.pppm(np.random.default_rng(0).standard_normal((100, 3)), epsilon=0.5)
    with pytest.raises(ValueError, match="kind must be"):
        plotting.plot_pppm(res, (0, 1), kind="contour")
    with pytest.raises(TypeError, match="plane must be a pair"):
        plotting.plot_pppm(res, 0)
    with pytest.raises(ValueError, match=r"plane \(1, 0\)"):
        plotting.plot_pppm(res, (1, 0))


def test_only_the_style_keys_are_restored(result, monkeypatch):
    """Inside a figure function the inline backend may switch `interactive` on; keep it on."""
    before = {key: matplotlib.rcParams[key] for key in plotting._style._STYLE}
    original_subplots = plt.subplots

    def subplots_that_turn_interactive_on(*args, **kwargs):
        matplotlib.rcParams["interactive"] = True
        return original_subplots(*args, **kwargs)

    monkeypatch.setattr(plt, "subplots", subplots_that_turn_interactive_on)
    interactive = matplotlib.rcParams["interactive"]
    try:
        matplotlib.rcParams["interactive"] = False
        plotting.plot_srm_ensemble(result)
        assert matplotlib.rcParams["interactive"] is True
    finally:
        matplotlib.rcParams["interactive"] = interactive
    assert {key: matplotlib.rcParams[key] for key in plotting._style._STYLE} == before


def test_pppm_normalised_points_lie_between_epsilon_and_one():
    x = np.random.default_rng(5).standard_normal((1000, 4)) * [3.0, 2.0, 0.5, 0.5]
    res = srmlib.pppm(x, epsilon=0.7, planes=[(0, 1)])
    ax = plotting.plot_pppm(res, (0, 1), normalise=True)
    radii = np.linalg.norm(ax.collections[0].get_offsets(), axis=1)
    assert np.all(radii >= 0.7 - 1e-12) and np.all(radii <= 1 + 1e-12)
    assert len(ax.lines) == 2 + 2  # the circles of radius 1 and epsilon, then b_i and b_j
    assert "unit directions" in ax.get_xlabel()
    with pytest.raises(TypeError, match="normalise must be True or False"):
        plotting.plot_pppm(res, (0, 1), normalise=1)


# --------------------------------------------------------------------------- redrawn figures


def test_ensemble_transparency_is_one_rule_for_the_plot_and_the_explorer(result):
    ax = plotting.plot_srm_ensemble(result)
    alphas = {line.get_alpha() for line in ax.lines[:-1]}
    figure = plotting.SRMFigure()
    figure.update(result, "ensemble")
    planes = [c for c in figure.linear.collections if c.get_gid() == "planes"][0]
    assert alphas == {planes.get_alpha()}
    assert 0.08 <= planes.get_alpha() <= 0.8
    many = srmlib.spotlight_resonance(np.random.default_rng(2).standard_normal((300, 12)),
                                      epsilon=0.6, resolution=16)  # 66 planes: fainter lines
    assert plotting.plot_srm_ensemble(many).lines[0].get_alpha() < planes.get_alpha()
    plt.close("all")


def test_srm_figure_views_and_errors(result):
    figure = plotting.SRMFigure(figsize=(8.0, 3.5), dpi=50)
    linear, polar = figure.figure.axes
    assert (linear, polar) == (figure.linear, figure.polar) and polar.name == "polar"
    figure.update(result, (1, 3), basis="standard")
    curve = [line for line in linear.lines if line.get_gid() == "curve"][0]
    np.testing.assert_allclose(curve.get_ydata()[:-1], result.plane(1, 3))
    assert "standard basis" in figure.figure.get_suptitle()
    figure.update(result, "mean")
    np.testing.assert_allclose(curve.get_ydata()[:-1], result.mean())
    with pytest.raises(ValueError, match=r"plane \(0, 9\) is not among"):
        figure.update(result, (0, 9))
    with pytest.raises(ValueError, match="view must be one of"):
        figure.update(result, "median")
    with pytest.raises(TypeError, match="view must be a pair"):
        figure.update(result, 1.0)
    with pytest.raises(TypeError, match="result must be an SRMResult"):
        figure.update(result.values)
    assert plt.get_fignums() == []  # never registered with pyplot


def test_pppm_figure_redraws_plot_pppm():
    x = np.random.default_rng(3).standard_normal((400, 3))
    figure = plotting.PPPMFigure()
    for epsilon in (0.9, 0.6):
        figure.update(srmlib.pppm(x, epsilon=epsilon), (0, 2), extent=3.0)
        ax, = figure.figure.axes
        np.testing.assert_array_equal(ax.collections[0].get_offsets(),
                                      srmlib.pppm(x, epsilon=epsilon).in_plane(0, 2))
        assert f"ε = {epsilon:.3f}" in ax.get_title() and ax.get_xlim() == (-3.0, 3.0)
    with pytest.raises(TypeError, match="result must be a PPPMResult"):
        figure.update(x, (0, 2))
    assert plt.get_fignums() == []


def test_animate_plays_every_frame_offline():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.0, 2.0), dpi=30)
    ax = fig.add_subplot()
    drawn = []
    html = plotting.animate(fig, 3, lambda k: drawn.append(k) or ax.set_title(str(k)), 2.0).data
    assert html.count("data:image/png;base64") == 3 and set(drawn) == {0, 1, 2}
    assert "https://" not in html and 'class="fa ' not in html and "▶" in html
    for args, error, match in [((ax, 3, print, 2.0), TypeError, "fig must be"),
                               ((fig, 0, print, 2.0), ValueError, "n_frames"),
                               ((fig, 3, "draw", 2.0), TypeError, "draw must be"),
                               ((fig, 3, print, 0.0), ValueError, "fps must be positive")]:
        with pytest.raises(error, match=match):
            plotting.animate(*args)
