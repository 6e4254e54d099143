"""What a cost estimate is made of: the assumptions it is priced under, its lines (each with the formula's
inputs written out), and the price lookup that says which table to extend when an instance is missing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from golive.errors import UserError


@dataclass(frozen=True)
class Assumptions:
    requests_per_month: int = 1_000_000
    avg_tokens: int = 32
    training_runs: int = 4
    training_hours: float = 1.0  # billable hours per run
    spot_discount: float = 0.70  # share saved by managed spot (AWS quotes up to 90%)
    storage_gb: float = 50  # data, models and captured traffic together
    feedback_share: float = 0.10  # share of predictions that get a feedback write
    log_bytes_per_request: int = 1_000  # Lambda + access log lines
    # Lambda time per prediction on the in-process int8 model: benchmarks/serving.py measured 4.2 ms at
    # 29 tokens plus ~1.2 ms of app time on 2 vCPUs; 2 GB Lambdas have about 1.2 vCPUs
    onnx_ms_base: float = 3.0
    onnx_ms_per_token: float = 0.1
    proxy_ms: float = 30.0  # Lambda time waiting on an endpoint round trip
    # share of requests that start a new Lambda instance, which reads the signing key once (Secrets Manager call)
    cold_start_share: float = 0.002
    serverless_memory_gb: float = 2.0
    # a scale-to-zero GPU endpoint is up this many hours a day (infra/costs/serving_options.py)
    active_hours_per_day: float = 8.0
    # the API Lambda's init phase per cold start, billed on demand: 0.86 s measured from the built package on
    # 2 cores (shared/REFERENCE.md); with SnapStart a restore replaces it
    init_s: float = 0.86
    snapstart_versions: int = 1  # published versions holding a cached snapshot (the alias's)

    def check(self) -> None:
        problems = [
            name
            for name, ok in [
                ("--requests-per-month must be 0 or more", self.requests_per_month >= 0),
                ("--avg-tokens must be between 1 and 512", 1 <= self.avg_tokens <= 512),
                ("--training-runs must be 0 or more", self.training_runs >= 0),
                ("--training-hours must be above 0", self.training_hours > 0),
                ("--spot-discount must be between 0 and 0.9", 0 <= self.spot_discount <= 0.9),
                ("cold_start_share must be between 0 and 1", 0 <= self.cold_start_share <= 1),
                ("--active-hours-per-day must be above 0 and at most 24", 0 < self.active_hours_per_day <= 24),
            ]
            if not ok
        ]
        if problems:
            raise UserError("; ".join(problems))

    @property
    def onnx_ms(self) -> float:
        return self.onnx_ms_base + self.onnx_ms_per_token * self.avg_tokens


@dataclass
class Line:
    stage: str
    item: str
    monthly_usd: float
    assumption: str


@dataclass
class Estimate:
    environment: str
    region: str
    prices_as_of: str
    assumptions: dict
    lines: list[Line] = field(default_factory=list)
    per_1000_predictions: dict[str, float] = field(default_factory=dict)
    # each serving option at this traffic (infra/costs/serving_options.py)
    serving_options: dict[str, dict] = field(default_factory=dict)
    # traffic at which the two options of each pair `a_vs_b` cost the same (None: one is cheaper at any traffic)
    break_even_requests_per_month: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, stage: str, item: str, usd: float, assumption: str) -> None:
        self.lines.append(Line(stage, item, round(usd, 2), assumption))

    def by_stage(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.stage] = round(totals.get(line.stage, 0) + line.monthly_usd, 2)
        return totals

    def to_dict(self) -> dict:
        return {**asdict(self), "by_stage": self.by_stage(), "total_usd": round(sum(self.by_stage().values()), 2)}


def price(table: dict, kind: str, instance_type: str) -> float:
    try:
        return table[kind][instance_type]
    except KeyError:
        known = ", ".join(sorted(table[kind]))
        raise UserError(
            f"no {kind.replace('_', ' ')} price for {instance_type} in the price table; known: {known} "
            "(add it to infra/costs/prices-us-east-1.json or use --refresh-prices)"
        ) from None
