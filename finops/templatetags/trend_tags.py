"""`{{ values|sparkline }}`: a series (the Founder Table's weekly metrics, oldest first) as a tiny inline SVG drawn
on the server, so it needs no script (CSP) and no chart library."""

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()

WIDTH, HEIGHT, PAD = 96, 24, 2


def sparkline_points(values: list) -> list[tuple[float, float] | None]:
    """Each value's (x, y) in the SVG's box, the largest at the top; None for an undefined value (a gap)."""
    known = [v for v in values if v is not None]
    if not known:
        return [None] * len(values)
    low, high = min(known), max(known)
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(value):
        if high == low:
            return HEIGHT / 2
        return PAD + (high - value) / (high - low) * (HEIGHT - 2 * PAD)

    return [None if v is None else (round(PAD + n * step, 1), round(y(v), 1)) for n, v in enumerate(values)]


@register.filter
def sparkline(values) -> str:
    """A polyline per run of known values (undefined weeks are gaps), and a dot on the last known one."""
    points = sparkline_points(list(values or []))
    runs, run = [], []
    for point in [*points, None]:
        if point is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append(point)
    lines = format_html_join(
        "", '<polyline points="{}" fill="none" stroke="currentColor" stroke-width="1.5"></polyline>',
        ((" ".join(f"{x},{y}" for x, y in r),) for r in runs),
    )  # fmt: skip
    last = next((p for p in reversed(points) if p is not None), None)
    dot = format_html('<circle cx="{}" cy="{}" r="2" fill="currentColor"></circle>', *last) if last else ""
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" data-points="{}" role="img" '
        'aria-label="The last {} weeks, oldest first">{}{}</svg>',
        WIDTH, HEIGHT, WIDTH, HEIGHT, len(points), len(points), lines, dot,
    )  # fmt: skip
