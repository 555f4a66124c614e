// GET /metrics: the pipeline's figures in Prometheus' text exposition format (version 0.0.4),
// names prefixed cutover_, units in the name (_bytes, _seconds), counters ending in _total.
#pragma once

#include <string>

#include "cutover/orchestrator/cutover_runner.h"
#include "cutover/pipeline/forward_pipeline.h"
#include "cutover/plan/plan.h"
#include "cutover/verify/verification_service.h"

namespace cutover {

std::string prometheus_metrics(const Plan& plan, const PipelineStatus& status,
                               const VerificationService& verification, const CutoverRunner& cutover);

}  // namespace cutover
