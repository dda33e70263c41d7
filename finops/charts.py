"""Plotly figures built in Python (plain dicts), passed to pages with json_script. Floats only here:
plot coordinates, never money."""


def host_figures(series: dict) -> dict:
    """Utilisation, memory and power over time, one line per GPU."""

    def figure(title, unit, index, scale=1):
        traces = [
            {
                "type": "scatter",
                "mode": "lines",
                "name": gpu["label"],
                "x": [point[0].isoformat() for point in gpu["points"]],
                "y": [None if point[index] is None else point[index] / scale for point in gpu["points"]],
            }
            for gpu in series.values()
        ]
        layout = {
            "title": {"text": title, "font": {"size": 14}},
            "yaxis": {"title": {"text": unit}, "rangemode": "tozero"},
            "margin": {"l": 50, "r": 10, "t": 40, "b": 70},
            "height": 260,
            "showlegend": len(traces) <= 8,
            "legend": {"orientation": "h", "y": -0.35},
        }
        return {"data": traces, "layout": layout}

    return {
        "utilization": figure("GPU utilisation", "%", 1),
        "memory": figure("Memory used", "GiB", 2, scale=2**30),
        "power": figure("Power", "W", 3),
    }
