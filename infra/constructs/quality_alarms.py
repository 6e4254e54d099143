"""Model quality alarms, from the API's EMF metrics: online accuracy from feedback, mean confidence (CloudWatch
anomaly detection, and against the bundle's baseline), the predicted-label share's distance from the baseline
and the mean input length's drift. The formulas are those of `golive.monitoring.conditions`, which `golive
monitor` applies locally; the baseline is the deploy-time bundle's (metrics.json)."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from golive.contracts import alarms as catalog
from golive.contracts.telemetry import CONFIDENCE, FEEDBACK, FEEDBACK_CORRECT, INPUT_CHARS, PREDICTED_LABEL, PREDICTIONS
from golive.monitoring.conditions import Baseline
from infra.constructs.alarm_kit import GT, LT, AlarmKit
from infra.constructs.inline import Inline

# a CloudWatch alarm's metric math may use at most 10 metrics: the prediction count plus 9 labels
MAX_DRIFT_LABELS = 9


class QualityAlarms(Inline):
    """`baseline` None (a bundle without one): only the alarms that need no baseline."""

    def __init__(self, scope: Construct, construct_id: str, *, kit: AlarmKit, baseline: Baseline | None) -> None:
        super().__init__(scope, construct_id)
        self.kit, t = kit, kit.thresholds
        accuracy = cloudwatch.MathExpression(
            expression=f"IF(feedback >= {t.min_feedback}, correct / feedback, 1)",
            label="online accuracy",
            using_metrics={
                "feedback": kit.api_metric(FEEDBACK, "Sum"),
                "correct": kit.api_metric(FEEDBACK_CORRECT, "Sum"),
            },
            period=kit.quality_period,
        )
        self.alarms: list[cloudwatch.AlarmBase] = [
            kit.alarm(
                self,
                catalog.ONLINE_ACCURACY,
                f"accuracy from client feedback is below {t.min_online_accuracy:.0%} (with {t.min_feedback}+ feedback "
                "an hour): retrain or roll back",
                accuracy,
                t.min_online_accuracy,
                LT,
                evaluation_periods=1,
            )
        ]
        spec = catalog.CONFIDENCE_ANOMALY
        self.alarms.append(
            kit.notify(
                spec,
                cloudwatch.AnomalyDetectionAlarm(
                    self,
                    spec.construct_id,
                    alarm_name=kit.name(spec),
                    alarm_description="mean confidence fell below the band CloudWatch learned from its own history",
                    metric=kit.api_metric(CONFIDENCE, "Average"),
                    std_devs=t.confidence_anomaly_band,
                    evaluation_periods=2,
                    datapoints_to_alarm=2,
                    comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                ),
            )
        )
        if baseline is not None:  # without one, the fixed-threshold drift alarms have nothing to compare
            self._drift_alarms(baseline)

    def _drift_alarms(self, baseline: Baseline) -> None:
        kit, t, q = self.kit, self.kit.thresholds, self.kit.quality_period
        floor = baseline.mean_confidence - t.max_confidence_drop
        self.alarms.append(
            kit.alarm(
                self,
                catalog.CONFIDENCE_DROP,
                f"mean confidence is below the bundle's {baseline.mean_confidence:.3f} minus {t.max_confidence_drop}",
                cloudwatch.MathExpression(
                    expression=f"IF(n >= {t.min_predictions}, confidence / 100, 1)",
                    label="mean confidence",
                    period=q,
                    using_metrics={
                        "n": kit.api_metric(CONFIDENCE, "SampleCount"),
                        "confidence": kit.api_metric(CONFIDENCE, "Average"),
                    },
                ),
                floor,
                LT,
                evaluation_periods=1,
            )
        )
        self._label_share_drift(baseline)
        if baseline.mean_input_chars:
            self._input_length_drift(baseline)

    def _label_share_drift(self, baseline: Baseline) -> None:
        """Total variation distance of the predicted-label shares from the baseline's (its top labels)."""
        kit, t, q = self.kit, self.kit.thresholds, self.kit.quality_period
        shares = sorted(baseline.label_share.items(), key=lambda item: -item[1])[:MAX_DRIFT_LABELS]
        terms = " + ".join(f"ABS(FILL(l{i}, 0) / n - {share:.6f})" for i, (_, share) in enumerate(shares))
        label_metrics = {
            f"l{i}": kit.api_metric(PREDICTED_LABEL, "Sum", label=label) for i, (label, _) in enumerate(shares)
        }
        self.alarms.append(
            kit.alarm(
                self,
                catalog.LABEL_SHARE_DRIFT,
                f"the predicted-label share is more than {t.max_label_share_drift} (total variation distance) away "
                "from the bundle's baseline: the traffic or the model changed",
                cloudwatch.MathExpression(
                    expression=f"IF(n >= {t.min_predictions}, 0.5 * ({terms}), 0)",
                    label="label share drift",
                    period=q,
                    using_metrics={"n": kit.api_metric(PREDICTIONS, "Sum"), **label_metrics},
                ),
                t.max_label_share_drift,
                GT,
                evaluation_periods=1,
            )
        )

    def _input_length_drift(self, baseline: Baseline) -> None:
        """The mean input length's relative distance from the baseline's."""
        kit, t, q = self.kit, self.kit.thresholds, self.kit.quality_period
        self.alarms.append(
            kit.alarm(
                self,
                catalog.INPUT_LENGTH_DRIFT,
                f"the mean input length is more than {t.max_input_length_drift:.0%} away from the bundle's "
                f"{baseline.mean_input_chars:.0f} characters: clients send text the model was not trained on",
                cloudwatch.MathExpression(
                    expression=f"IF(n >= {t.min_predictions}, ABS(chars / {baseline.mean_input_chars:.6f} - 1), 0)",
                    label="input length drift",
                    period=q,
                    using_metrics={
                        "n": kit.api_metric(INPUT_CHARS, "SampleCount"),
                        "chars": kit.api_metric(INPUT_CHARS, "Average"),
                    },
                ),
                t.max_input_length_drift,
                GT,
                evaluation_periods=1,
            )
        )
