"""FastCarRacing against Gymnasium's CarRacing-v3: the same observations, rewards, episode ends
and video frames, step by step, on drives that meet every situation the renderer must draw — the
zoom at the start, hard turns, braking, grass, the edge of the map, a finished lap — and the
geometry that lets it skip work checked against pygame's own drawing."""

import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pygame
import pytest
from gymnasium.envs.box2d.car_racing import TRACK_DETAIL_STEP, CarRacing
from pygame import gfxdraw

from wmlib.env import FastCarRacing, carracing, fast_carracing


def heading_error(target: float, heading: float) -> float:
    """target − heading, wrapped into [−π, π)."""
    return (target - heading + math.pi) % (2 * math.pi) - math.pi


class TrackFollower:
    """A driver that keeps to the track's centre line, fast enough to finish a lap in time.

    It steers towards the centre-line point a little ahead (farther at speed) and holds the
    speed that the sharpest bend ahead allows, speed² = grip · radius, braking above it.
    """

    def __init__(self, grip: float = 140.0, top_speed: float = 110.0):
        self.grip, self.top_speed = grip, top_speed

    def act(self, car_racing: CarRacing) -> np.ndarray:
        """Steering, gas and brake for the car's present state."""
        track = np.array([point[1:4] for point in car_racing.track])  # heading β, x, y
        position = np.array(car_racing.car.hull.position)
        nearest = int(np.argmin(np.sum((track[:, 1:] - position) ** 2, axis=1)))
        speed = speed_of(car_racing)
        ahead = nearest + 1 + round((6.0 + 0.15 * speed) / TRACK_DETAIL_STEP)
        target_speed = self.safe_speed(track[:, 0], nearest, speed)
        return drive_towards(car_racing, track[ahead % len(track), 1:], target_speed)

    def safe_speed(self, headings: np.ndarray, nearest: int, speed: float) -> float:
        """The speed the sharpest bend within braking distance allows."""
        tiles = int((0.8 * speed + 10.0) / TRACK_DETAIL_STEP) + 3
        coming = headings[(nearest + np.arange(tiles)) % len(headings)]
        turn_per_tile = np.convolve(np.abs(np.diff(np.unwrap(coming))), np.ones(3) / 3, "valid")
        radius = TRACK_DETAIL_STEP / max(float(turn_per_tile.max()), 1e-3)
        return min(self.top_speed, math.sqrt(self.grip * radius))


def speed_of(car_racing: CarRacing) -> float:
    """The car's speed, in world units a second."""
    return float(np.hypot(*car_racing.car.hull.linearVelocity))


def drive_towards(car_racing: CarRacing, point: np.ndarray, target_speed: float) -> np.ndarray:
    """Steer towards `point` (+1 is full right), damping the car's spin, and speed up or brake
    towards `target_speed`; little gas at full lock, or this rear-wheel drive spins."""
    x, y = car_racing.car.hull.position
    heading = car_racing.car.hull.angle + math.pi / 2  # the nose is along the body's y axis
    error = heading_error(math.atan2(point[1] - y, point[0] - x), heading)
    steer = np.clip(-2.0 * error + 0.3 * car_racing.car.hull.angularVelocity, -1.0, 1.0)
    speed = speed_of(car_racing)
    gas = np.clip((target_speed - speed) * 0.2, 0.0, 1.0) * max(0.1, 1.0 - abs(steer))
    brake = np.clip((speed - target_speed) * 0.1, 0.0, 0.8)
    return np.array([steer, gas, brake], dtype=np.float32)


class Swerver(TrackFollower):
    """The track follower, but every 250 steps it swerves: 20 steps at full lock, right and left
    in turn, then 10 braking, which leaves it on the grass to find the track again."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def act(self, car_racing: CarRacing) -> np.ndarray:
        """The follower's action, or the swerve's when one is due."""
        self.steps += 1
        phase = self.steps % 250
        if 200 <= phase < 220:
            return np.array([1.0 if self.steps % 500 < 250 else -1.0, 0.2, 0.0], dtype=np.float32)
        if 220 <= phase < 230:
            return np.array([0.0, 0.0, 0.8], dtype=np.float32)
        return super().act(car_racing)


class Escaper(TrackFollower):
    """The track follower for 150 steps, then straight away from the map's centre until the car
    leaves the playfield, which ends the episode."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def act(self, car_racing: CarRacing) -> np.ndarray:
        """The follower's action, then the escape's."""
        self.steps += 1
        if self.steps <= 150:
            return super().act(car_racing)
        away = 10.0 * np.array(car_racing.car.hull.position)
        return drive_towards(car_racing, away, target_speed=60.0)


class RandomWalk:
    """The project's Brownian data policy: smooth random steering, gas and brake."""

    def __init__(self, seed: int):
        self.policy = carracing.BrownianPolicy()
        self.policy.reset(np.random.default_rng(seed), (64, 64, 3))

    def act(self, car_racing: CarRacing) -> np.ndarray:
        """The walk's next step; it does not look at the car."""
        return self.policy.act(None)


def situations(car_racing: CarRacing, action: np.ndarray, step: int, info: dict) -> set[str]:
    """What the car was doing at this step, to check that a drive met what it was meant to."""
    speed = speed_of(car_racing)
    seen = {
        "zoom": step < 50,
        "hard turn": abs(action[0]) >= 0.99 and speed > 10.0,
        "braking": action[2] > 0.1 and speed > 10.0,
        "on grass": all(not wheel.tiles for wheel in car_racing.car.wheels),
        "skid marks": bool(car_racing.car.particles),  # drawn in the video frames only
        "lap finished": info.get("lap_finished") is True,
        "left the playfield": info.get("lap_finished") is False,
    }
    return {name for name, happened in seen.items() if happened}


def drive_both(seed: int, driver, max_steps: int, video_every: int) -> Counter:
    """Drive Gymnasium's CarRacing and FastCarRacing side by side with the same actions, and
    assert that every step returns the same; every `video_every` steps, also the video frame.
    Returns how many steps met each situation, and how the episode ended."""
    stock = carracing.make_env(max_steps, "rgb_array", renderer="gymnasium")
    fast = carracing.make_env(max_steps, "rgb_array", renderer="fast")
    expected, _ = stock.reset(seed=seed)
    np.testing.assert_array_equal(fast.reset(seed=seed)[0], expected, "reset")
    seen = Counter()
    for step in range(max_steps):
        action = driver.act(stock.unwrapped)
        expected = stock.step(action)
        actual = fast.step(action)
        np.testing.assert_array_equal(actual[0], expected[0], f"observation at step {step}")
        assert actual[1:] == expected[1:], f"reward, ends or info at step {step}"
        if step % video_every == 0:
            np.testing.assert_array_equal(fast.render(), stock.render(), f"video at step {step}")
        seen.update(situations(stock.unwrapped, action, step, expected[4]))
        if expected[2] or expected[3]:
            seen["terminated" if expected[2] else "truncated"] += 1
            break
    stock.close()
    fast.close()
    return seen


def test_a_finished_lap():
    """Seed 3's track, driven along its centre line: a lap in 869 steps, braking before bends."""
    seen = drive_both(seed=3, driver=TrackFollower(), max_steps=1000, video_every=2)
    assert seen["lap finished"] == 1 and seen["terminated"] == 1
    assert seen["zoom"] == 50 and seen["braking"] >= 50


def test_swerving_onto_the_grass_for_a_whole_episode():
    """Seed 11's track with four swerves: spins, skids and grass, until the time limit."""
    seen = drive_both(seed=11, driver=Swerver(), max_steps=1000, video_every=5)
    assert seen["truncated"] == 1  # by the time limit, after 1,000 steps
    assert seen["on grass"] >= 200 and seen["hard turn"] >= 100 and seen["braking"] >= 50
    assert seen["skid marks"] >= 500


def test_leaving_the_playfield():
    """Seed 6's track, left after 150 steps: the map's edge comes into view, then the end."""
    seen = drive_both(seed=6, driver=Escaper(), max_steps=1000, video_every=1)
    assert seen["left the playfield"] == 1 and seen["terminated"] == 1
    assert seen["on grass"] >= 50


@pytest.mark.parametrize("seed", [20, 21, 22, 23])
def test_random_driving(seed):
    """Four more tracks, driven by the project's Brownian data policy and cut at 250 steps."""
    seen = drive_both(seed=seed, driver=RandomWalk(seed), max_steps=250, video_every=10)
    assert seen["truncated"] == 1 and seen["zoom"] == 50


def test_randomised_colours():
    """`domain_randomize` draws other, non-integer colours; they reach pygame unchanged too."""
    stock, fast = CarRacing(domain_randomize=True), FastCarRacing(domain_randomize=True)
    np.testing.assert_array_equal(fast.reset(seed=1)[0], stock.reset(seed=1)[0])
    driver = RandomWalk(1)
    for step in range(100):
        action = driver.act(stock)
        np.testing.assert_array_equal(fast.step(action)[0], stock.step(action)[0], f"step {step}")


def test_make_env_wraps_both_as_gym_make_does():
    """Both renderers come with CarRacing-v3's wrappers, time limit and metadata."""
    for renderer, environment_class in (("fast", FastCarRacing), ("gymnasium", CarRacing)):
        environment = carracing.make_env(123, renderer=renderer)
        assert type(environment.unwrapped) is environment_class
        assert environment.spec.max_episode_steps == 123
        assert environment.metadata["render_fps"] == carracing.FRAMES_PER_SECOND
        assert "TimeLimit<OrderEnforcing<PassiveEnvChecker<" in str(environment)
    with pytest.raises(ValueError, match="renderer"):
        carracing.make_env(renderer="opengl")


def test_wmlib_env_imports_gymnasium_only_for_fast_car_racing():
    """`wmlib.env` itself stays light; `FastCarRacing` is imported when first asked for."""
    code = (
        "import sys, wmlib.env; assert 'gymnasium' not in sys.modules; "
        "from wmlib.env import FastCarRacing; assert 'gymnasium' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_to_screen_computes_the_very_floats_of_pygames_vector2():
    """Corner by corner, the floats CarRacing computes with `Vector2.rotate_rad`, for angles
    beyond a full turn (pygame reduces them with fmod first) and within 1e-6 of a right angle
    (pygame then turns exactly)."""
    rng = np.random.default_rng(0)
    points = rng.uniform(-400, 400, size=(20, 2))
    right_angles = np.arange(-8, 9) * math.pi / 2 + rng.uniform(-1e-6, 1e-6, size=17)
    for angle in [*rng.uniform(-30, 30, size=300), *right_angles]:
        zoom, translation = rng.uniform(0.5, 20), tuple(rng.uniform(-5000, 5000, size=2))
        turned = [pygame.math.Vector2(point).rotate_rad(angle) for point in points.tolist()]
        expected = [[c[0] * zoom + translation[0], c[1] * zoom + translation[1]] for c in turned]
        assert fast_carracing.to_screen(points, angle, zoom, translation).tolist() == expected


def drawn_pixels(surface: pygame.Surface, corners: np.ndarray, colour) -> np.ndarray:
    """The window after drawing one polygon on black, as CarRacing draws it."""
    surface.fill((0, 0, 0))
    points = corners.tolist()
    gfxdraw.aapolygon(surface, points, colour)
    gfxdraw.filled_polygon(surface, points, colour)
    return pygame.surfarray.array3d(surface)


def test_the_polygons_that_visible_skips_change_no_pixel():
    """Random quadrilaterals on either side of the window's edges: those `visible` leaves out,
    drawn anyway, leave the window black."""
    rng = np.random.default_rng(0)
    surface = pygame.Surface((fast_carracing.WINDOW_W, fast_carracing.WINDOW_H))
    width, height = surface.get_size()
    skipped = 0
    for _ in range(400):
        edge_point = rng.choice(
            [
                (rng.uniform(0, width), rng.choice([0, height])),
                (rng.choice([0, width]), rng.uniform(0, height)),
            ]
        )
        corners = edge_point + rng.uniform(-30, 30, size=2) + rng.uniform(-15, 15, size=(4, 2))
        if len(fast_carracing.visible(corners[:, None, :])) == 0:
            skipped += 1
            assert not drawn_pixels(surface, corners, (255, 0, 0)).any(), corners
    assert skipped > 100


def test_a_background_that_covers_the_window_paints_what_fill_paints():
    """Large squares turned at random: those `covers_window` accepts, drawn as CarRacing draws
    the background, paint exactly what `fill` paints."""
    rng = np.random.default_rng(0)
    surface = pygame.Surface((fast_carracing.WINDOW_W, fast_carracing.WINDOW_H))
    colour = np.array([33.7, 150.2, 99.9])  # a randomised background colour
    fast_carracing.fill(surface, colour)
    filled = pygame.surfarray.array3d(surface)
    square = np.array([(1, 1), (1, -1), (-1, -1), (-1, 1)], dtype=np.float64)
    covering = 0
    for _ in range(200):
        angle = rng.uniform(0, 2 * math.pi)
        turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        field = rng.uniform(400, 1500) * square @ turn.T + rng.uniform(-1000, 2000, size=2)
        if fast_carracing.covers_window(field):
            covering += 1
            np.testing.assert_array_equal(drawn_pixels(surface, field, colour), filled)
    assert covering > 20
