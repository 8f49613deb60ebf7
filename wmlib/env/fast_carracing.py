"""CarRacing-v3 drawn several times faster, with the very same pixels (chapter 1).

Gymnasium's CarRacing spends almost all of a step drawing its 96×96 picture. Most of that goes
to a Python loop that turns about 730 grass and road polygons with the car, one corner at a time,
to find the few that are on screen, and to loading the score's font from disk every frame.
`FastCarRacing` keeps the physics, and draws what CarRacing draws with the same calls, in the
same order and with the same arguments; it only leaves out work that changes no pixel:

- a track's polygons are stacked into one array when the track is built, and every frame they
  are turned and culled all at once with NumPy, with the very sine and cosine pygame would use;
- polygons that CarRacing draws although they lie wholly outside the window are skipped;
- when the background square covers the whole window, the window is filled with its colour;
  gfxdraw would walk through the square's thousands of rows off screen one by one;
- the font is loaded once, and each score's text is drawn once.

Observations, rewards and video frames are bit-identical to Gymnasium's; the test
tests/test_fast_carracing.py checks it, and fails if a new Gymnasium changes the environment.
"""

import functools
import os

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402  (pygame reads the variable above when it is imported)
from gymnasium.envs.box2d.car_racing import (  # noqa: E402
    GRASS_DIM,
    MAX_SHAPE_DIM,
    PLAYFIELD,
    SCALE,
    STATE_H,
    STATE_W,
    VIDEO_H,
    VIDEO_W,
    WINDOW_H,
    WINDOW_W,
    ZOOM,
    CarRacing,
)
from pygame import gfxdraw  # noqa: E402


def corners_first(polygons) -> np.ndarray:
    """Quadrilaterals as a (4, n, 2) array: corner, polygon, coordinate.

    With the corners first, a polygon's extent is a reduction over the first axis, which NumPy
    runs over whole contiguous arrays.
    """
    return np.ascontiguousarray(np.swapaxes(np.array(polygons, dtype=np.float64), 0, 1))


PLAYFIELD_CORNERS = np.array(
    [
        (PLAYFIELD, PLAYFIELD),
        (PLAYFIELD, -PLAYFIELD),
        (-PLAYFIELD, -PLAYFIELD),
        (-PLAYFIELD, PLAYFIELD),
    ]
)
"""The background square the car may drive on, in world coordinates."""
GRASS_PATCHES = corners_first(
    [
        [
            (GRASS_DIM * x + GRASS_DIM, GRASS_DIM * y + 0),
            (GRASS_DIM * x + 0, GRASS_DIM * y + 0),
            (GRASS_DIM * x + 0, GRASS_DIM * y + GRASS_DIM),
            (GRASS_DIM * x + GRASS_DIM, GRASS_DIM * y + GRASS_DIM),
        ]
        for x in range(-20, 20, 2)
        for y in range(-20, 20, 2)
    ]
)
"""The 400 lighter grass squares, in CarRacing's order and with its arithmetic."""
NEAR_LOW = np.array([-MAX_SHAPE_DIM, -MAX_SHAPE_DIM])
NEAR_HIGH = np.array([WINDOW_W + MAX_SHAPE_DIM, WINDOW_H + MAX_SHAPE_DIM])
"""CarRacing draws a polygon when one of its corners lies in this box: the window widened on
every side by the largest polygon's diagonal."""
PIXEL_MARGIN = 3.0
"""How far beyond its corners a polygon's drawing may reach: gfxdraw truncates the corners to
whole pixels, and anti-aliased edges spread one pixel further."""
WINDOW_LOW = np.array([-PIXEL_MARGIN, -PIXEL_MARGIN])
WINDOW_HIGH = np.array([WINDOW_W + PIXEL_MARGIN, WINDOW_H + PIXEL_MARGIN])
WINDOW_CORNERS = np.array(
    [WINDOW_LOW, (WINDOW_HIGH[0], WINDOW_LOW[1]), WINDOW_HIGH, (WINDOW_LOW[0], WINDOW_HIGH[1])]
)
"""The window widened by the margin: a polygon that misses it changes no pixel, and one that
holds it paints every pixel."""
SCORE_CENTRE = (60, WINDOW_H - WINDOW_H * 2.5 / 40.0)
"""Where CarRacing writes the score, in window pixels."""


def pygame_rotation(angle: float) -> tuple[float, float]:
    """The cosine and sine that `pygame.math.Vector2.rotate_rad(angle)` multiplies by.

    pygame first reduces the angle with `fmod(angle, 2π)`, whose sine and cosine may differ in
    the last bit from those of the angle itself, and turns by exactly 0, 90, 180 or 270 degrees
    when the angle is within 1e-6 of one. Turning the unit vector (1, 0) returns exactly the
    pair pygame uses, special cases included.
    """
    cosine, sine = pygame.math.Vector2(1.0, 0.0).rotate_rad(angle)
    return cosine, sine


def to_screen(
    points: np.ndarray, angle: float, zoom: float, translation: tuple[float, float]
) -> np.ndarray:
    """World points (..., 2) → window pixels, with CarRacing's arithmetic operation by operation:
    turn by `angle` as pygame does, scale by `zoom`, then shift by `translation`."""
    cosine, sine = pygame_rotation(angle)
    x, y = points[..., 0], points[..., 1]
    screen_x = (cosine * x - sine * y) * zoom + translation[0]
    screen_y = (sine * x + cosine * y) * zoom + translation[1]
    return np.stack([screen_x, screen_y], axis=-1)


def visible(polygons: np.ndarray) -> np.ndarray:
    """Indices of the polygons (4, n, 2), in window pixels, whose drawing changes the picture.

    These are the ones CarRacing draws, a corner near the window, less those that lie wholly
    outside the window: drawing those changes no pixel.
    """
    near = (polygons >= NEAR_LOW) & (polygons <= NEAR_HIGH)
    drawn_by_car_racing = (near[..., 0] & near[..., 1]).any(axis=0)
    overlaps = (polygons.max(axis=0) >= WINDOW_LOW) & (polygons.min(axis=0) <= WINDOW_HIGH)
    return np.flatnonzero(drawn_by_car_racing & overlaps[:, 0] & overlaps[:, 1])


def covers_window(polygon: np.ndarray) -> bool:
    """Whether the convex `polygon` (corners, 2), in window pixels, holds the whole window and
    its margin: every window corner lies on the same side of each of its edges."""
    edges = np.roll(polygon, -1, axis=0) - polygon
    to_window = WINDOW_CORNERS[:, None, :] - polygon[None, :, :]
    turns = edges[..., 0] * to_window[..., 1] - edges[..., 1] * to_window[..., 0]
    return bool(np.all(turns > 0) or np.all(turns < 0))


def fill(surface: pygame.Surface, colour) -> None:
    """Paint every pixel of `surface` with `colour`, as a polygon that covers it would.

    `surface.fill` is quicker by itself, but SDL writes the pixels with streaming stores, past
    the processor's cache, and the drawing that follows waits on memory; NumPy's plain stores
    leave the picture in the cache.
    """
    pygame.surfarray.pixels2d(surface)[...] = surface.map_rgb(colour)


@functools.cache
def score_font() -> pygame.font.Font:
    """pygame's default font at CarRacing's size, loaded once (CarRacing loads it every frame)."""
    pygame.font.init()
    return pygame.font.Font(pygame.font.get_default_font(), 42)


@functools.lru_cache(maxsize=256)
def score_text(score: str) -> pygame.Surface:
    """The score written as CarRacing writes it; a score keeps its text for many frames."""
    return score_font().render(score, True, (255, 255, 255), (0, 0, 0))


class FastCarRacing(CarRacing):
    """Gymnasium's CarRacing, with the same physics, rewards and pixels, drawn faster.

    It takes CarRacing's arguments. A window (`render_mode="human"`) is drawn by CarRacing's own
    code, which its clock holds to 50 frames a second anyway.
    """

    def _create_track(self) -> bool:
        """Build a track as CarRacing does, then stack its road polygons into one array."""
        built = super()._create_track()
        if built:
            self.road_corners = corners_first([corners for corners, _ in self.road_poly])
        return built

    def _render(self, mode: str):
        """The picture CarRacing's `_render(mode)` returns, from the same drawing calls."""
        assert mode in self.metadata["render_modes"]
        if mode == "human" or "t" not in self.__dict__:
            return super()._render(mode)
        zoom, translation, angle = self._camera()
        self.surf = pygame.Surface((WINDOW_W, WINDOW_H))
        self._render_road(zoom, translation, angle)
        self.car.draw(self.surf, zoom, translation, angle, mode != "state_pixels")
        self.surf = pygame.transform.flip(self.surf, False, True)
        self._render_indicators(WINDOW_W, WINDOW_H)
        self._render_score()
        size = (STATE_W, STATE_H) if mode == "state_pixels" else (VIDEO_W, VIDEO_H)
        return self._create_image_array(self.surf, size)

    def _camera(self) -> tuple[float, tuple[float, float], float]:
        """CarRacing's view: its zoom (growing during the first second), the translation that
        puts the car halfway across the window and a quarter of the way down (a quarter of the
        way up once the picture is flipped), and the angle the world turns by."""
        angle = -self.car.hull.angle
        zoom = 0.1 * SCALE * max(1 - self.t, 0) + ZOOM * SCALE * min(self.t, 1)
        scroll_x = -(self.car.hull.position[0]) * zoom
        scroll_y = -(self.car.hull.position[1]) * zoom
        scroll = pygame.math.Vector2((scroll_x, scroll_y)).rotate_rad(angle)
        return zoom, (WINDOW_W / 2 + scroll[0], WINDOW_H / 4 + scroll[1]), angle

    def _render_road(self, zoom: float, translation: tuple[float, float], angle: float) -> None:
        """Draw the background, then the grass patches and road polygons that show.

        The same polygons as CarRacing's, in the same order and colours. A tile's colour is read
        every frame, because the car's first touch changes it in place.
        """
        field = to_screen(PLAYFIELD_CORNERS, angle, zoom, translation)
        if covers_window(field):
            fill(self.surf, self.bg_color)
        else:
            self._draw_polygon(field, self.bg_color)
        grass = to_screen(GRASS_PATCHES, angle, zoom, translation)
        for index in visible(grass):
            self._draw_polygon(grass[:, index], self.grass_color)
        road = to_screen(self.road_corners, angle, zoom, translation)
        for index in visible(road):
            colour = [int(channel) for channel in self.road_poly[index][1]]
            self._draw_polygon(road[:, index], colour)

    def _draw_polygon(self, corners: np.ndarray, colour) -> None:
        """Draw a polygon, given in window pixels, with CarRacing's two gfxdraw calls."""
        points = corners.tolist()
        gfxdraw.aapolygon(self.surf, points, colour)
        gfxdraw.filled_polygon(self.surf, points, colour)

    def _render_score(self) -> None:
        """Write the score, the episode's return so far, at the dashboard's left."""
        text = score_text(f"{self.reward:04.0f}")
        text_rect = text.get_rect()
        text_rect.center = SCORE_CENTRE
        self.surf.blit(text, text_rect)

    def close(self) -> None:
        """Close as CarRacing does. Closing a window quits pygame, which unloads the font."""
        super().close()
        score_text.cache_clear()
        score_font.cache_clear()
