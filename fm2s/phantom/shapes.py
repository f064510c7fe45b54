"""The structures of a phantom and their rendering: cells, filaments, puncta, background."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class PhantomObjects:
    """The structures of a phantom, in pixel units of the image they were drawn for.

    Attributes
    ----------
    cells : numpy.ndarray
        ``(n, 6)``: centre y, centre x, semi-axis a, semi-axis b, angle (radians), brightness.
    filaments : list of numpy.ndarray
        Each ``(m, 2)``: points (y, x) along a smooth curve.
    filament_brightness : numpy.ndarray
        ``(n_filaments,)``.
    puncta : numpy.ndarray
        ``(n, 3)``: y, x, brightness.
    background : numpy.ndarray
        Smooth background of the full image (values in [0, 1]).
    texture_seed : int
        Seed of the cells' fine texture.
    """

    cells: np.ndarray
    filaments: list[np.ndarray]
    filament_brightness: np.ndarray
    puncta: np.ndarray
    background: np.ndarray
    texture_seed: int


def random_objects(
    shape: tuple[int, int],
    *,
    n_cells: int | None = None,
    n_filaments: int | None = None,
    n_puncta: int | None = None,
    background: float = 0.06,
    rng: np.random.Generator | int | None = 0,
) -> PhantomObjects:
    """Draw the random structures of a phantom (sizes scale with the image).

    Parameters
    ----------
    shape : (int, int)
        Rows, columns of the image.
    n_cells, n_filaments, n_puncta : int, optional
        Counts; defaults grow with the image area (about 10 cells, 10 filaments and 40 puncta
        for 256 x 256).
    background : float
        Mean level of the smooth background, in [0, 1].
    rng : numpy.random.Generator or int or None
        Random source or seed.

    Returns
    -------
    PhantomObjects
    """
    rng = np.random.default_rng(rng)
    h, w = (int(s) for s in shape)
    area = h * w / (256 * 256)
    n_cells = max(1, round(10 * area)) if n_cells is None else n_cells
    n_filaments = max(1, round(10 * area)) if n_filaments is None else n_filaments
    n_puncta = max(1, round(40 * area)) if n_puncta is None else n_puncta
    size = min(h, w)
    scale = max(size, 64) / 256

    cells = np.column_stack([
        rng.uniform(0.05, 0.95, n_cells) * h,
        rng.uniform(0.05, 0.95, n_cells) * w,
        rng.uniform(14, 30, n_cells) * scale,
        rng.uniform(9, 20, n_cells) * scale,
        rng.uniform(0, np.pi, n_cells),
        rng.uniform(0.2, 0.5, n_cells),
    ])
    filaments = []
    for _ in range(n_filaments):
        n_pts = 200
        start = rng.uniform([0, 0], [h, w])
        heading = rng.uniform(0, 2 * np.pi)
        turn = np.cumsum(rng.normal(0, 0.04, n_pts))
        angles = heading + ndimage.gaussian_filter1d(turn, 5)
        step = 1.2 * max(size, 64) / 256
        pts = start + np.cumsum(np.column_stack([np.sin(angles), np.cos(angles)]) * step, axis=0)
        filaments.append(pts)
    filament_brightness = rng.uniform(0.35, 0.8, n_filaments)
    puncta = np.column_stack([
        rng.uniform(0, h, n_puncta), rng.uniform(0, w, n_puncta),
        rng.uniform(0.4, 1.0, n_puncta),
    ])
    bg = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), sigma=size / 6, mode="wrap")
    bg = (bg - bg.min()) / max(float(np.ptp(bg)), 1e-12)
    bg = background * (0.5 + bg)
    return PhantomObjects(cells, filaments, filament_brightness, puncta, bg,
                          int(rng.integers(2**31)))


def render(
    objects: PhantomObjects,
    shape: tuple[int, int],
    *,
    offset: tuple[float, float] = (0.0, 0.0),
    cell_offsets: np.ndarray | None = None,
) -> np.ndarray:
    """Draw ``objects`` into a float image in [0, 1], optionally moved.

    Parameters
    ----------
    objects : PhantomObjects
        From :func:`random_objects`.
    shape : (int, int)
        Output rows, columns.
    offset : (float, float)
        Global (dy, dx) shift of every structure, in pixels (sub-pixel allowed).
    cell_offsets : numpy.ndarray, optional
        ``(n_cells, 2)`` extra (dy, dx) per cell (cells crawling on their own).

    Returns
    -------
    numpy.ndarray
        float64 image, clipped to [0, 1].
    """
    h, w = (int(s) for s in shape)
    dy, dx = (float(v) for v in offset)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w))
    tex_rng = np.random.default_rng(objects.texture_seed)
    texture = ndimage.gaussian_filter(tex_rng.normal(0, 1, (h, w)), 1.5)
    texture /= max(float(texture.std()), 1e-12)

    for i, (cy, cx, a, b, theta, amp) in enumerate(objects.cells):
        if cell_offsets is not None:
            cy, cx = cy + cell_offsets[i, 0], cx + cell_offsets[i, 1]
        cy, cx = cy + dy, cx + dx
        r = int(np.ceil(max(a, b) + 4))
        y0, y1 = max(0, int(cy) - r), min(h, int(cy) + r + 1)
        x0, x1 = max(0, int(cx) - r), min(w, int(cx) + r + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        py, px = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        c, s = np.cos(theta), np.sin(theta)
        u, v = (c * px + s * py) / a, (-s * px + c * py) / b
        rho = np.sqrt(u * u + v * v)
        body = 1.0 / (1.0 + np.exp((rho - 1.0) * 12.0))  # soft-edged ellipse
        nucleus = np.exp(-((u / 0.45) ** 2 + (v / 0.45) ** 2))
        tex = 1.0 + 0.25 * texture[y0:y1, x0:x1]
        img[y0:y1, x0:x1] += amp * body * tex + 0.5 * amp * nucleus

    lines = np.zeros((h, w))
    for pts, amp in zip(objects.filaments, objects.filament_brightness):
        py = np.round(pts[:, 0] + dy).astype(int)
        px = np.round(pts[:, 1] + dx).astype(int)
        ok = (py >= 0) & (py < h) & (px >= 0) & (px < w)
        np.maximum.at(lines, (py[ok], px[ok]), amp)
    img += ndimage.gaussian_filter(lines, 0.9) * 2.2

    spots = np.zeros((h, w))
    for y, x, amp in objects.puncta:
        iy, ix = int(round(y + dy)), int(round(x + dx))
        if 0 <= iy < h and 0 <= ix < w:
            spots[iy, ix] += amp
    img += ndimage.gaussian_filter(spots, 1.2) * 2 * np.pi * 1.2**2

    bg = objects.background
    if bg.shape != (h, w):
        raise ValueError(f"objects were drawn for {bg.shape}, cannot render them at {(h, w)}")
    if dy or dx:
        bg = ndimage.shift(bg, (dy, dx), order=1, mode="wrap")
    img += bg
    return np.clip(img, 0.0, 1.0)


def fluorescence_phantom(
    shape: tuple[int, int] = (256, 256),
    *,
    seed: int | None = 0,
    **kwargs: float | int | None,
) -> np.ndarray:
    """Return a clean fluorescence-like image as float64 in [0, 1].

    Parameters
    ----------
    shape : (int, int)
        Rows, columns.
    seed : int or None
        Random seed (None: different every call).
    **kwargs
        Passed to :func:`random_objects` (``n_cells``, ``n_filaments``, ``n_puncta``,
        ``background``).

    Returns
    -------
    numpy.ndarray
        float64, shape ``shape``, values in [0, 1].

    Examples
    --------
    >>> img = fluorescence_phantom((64, 64), seed=1)
    >>> img.shape, bool(0.0 <= img.min() <= img.max() <= 1.0)
    ((64, 64), True)
    """
    objects = random_objects(shape, rng=seed, **kwargs)  # type: ignore[arg-type]
    return render(objects, shape)
