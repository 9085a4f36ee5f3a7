"""The SVG charts: axes with round ticks, one group per bucket with its figures, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from listener.dashboard.charts import Marker, axis_ticks, buckets, compare_chart, volume_chart
from listener.domain import TrendPoint

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _point(hour: int, volume: int, negative: int, positive: int, brand: str = "A") -> TrendPoint:
    return TrendPoint(
        brand=brand,
        bucket_start=T0 + timedelta(hours=hour),
        volume=volume,
        negative=negative,
        neutral=volume - negative - positive,
        positive=positive,
    )


def test_axis_ticks_are_round_counts() -> None:
    assert axis_ticks(0) == [0, 1]
    assert axis_ticks(3) == [0, 1, 2, 3]
    assert axis_ticks(47) == [0, 20, 40, 60]
    assert axis_ticks(150) == [0, 50, 100, 150]
    assert all(float(t).is_integer() for t in axis_ticks(12_345))


def test_buckets_cover_the_period_aligned_to_the_epoch() -> None:
    starts = buckets(T0 + timedelta(minutes=30), T0 + timedelta(hours=3), 3600)
    assert starts == [T0 + timedelta(hours=h) for h in range(3)]


def test_volume_chart_has_a_group_per_bucket_with_its_figures() -> None:
    svg = volume_chart(
        [_point(1, 10, 6, 2), _point(3, 4, 0, 4)],
        since=T0,
        until=T0 + timedelta(hours=6),
        bucket_seconds=3600,
        markers=[Marker(at=T0 + timedelta(hours=1), label="Spike: <b>6 negative</b>")],
        now=T0 + timedelta(hours=3, minutes=20),
    )
    assert 'data-buckets="6" data-total="14"' in svg
    assert svg.count('<g class="bucket"') == 1
    assert svg.count('<g class="bucket partial"') == 1  # 03:00-04:00 is not over at 03:20
    assert "03:00 (so far): 4 mentions" in svg
    assert 'data-volume="10" data-negative="6" data-positive="2" data-net="-40.0"' in svg
    assert 'data-volume="4" data-negative="0" data-positive="4" data-net="100.0"' in svg
    assert "Spike: &lt;b&gt;6 negative&lt;/b&gt;" in svg
    assert 'class="net-line"' in svg


def test_compare_chart_draws_one_line_per_brand_with_data() -> None:
    svg = compare_chart(
        {
            "A": [_point(0, 5, 1, 3), _point(1, 5, 2, 2)],
            "B & Co": [_point(1, 3, 0, 1, "B")],
            "C": [],
        },
        since=T0,
        until=T0 + timedelta(hours=2),
        bucket_seconds=3600,
    )
    assert svg.count('class="series"') == 2
    assert 'data-brand="B &amp; Co"' in svg
