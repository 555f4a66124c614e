// ControlApi: the routes of INTERFACE.md's HTTP API over the running pipeline.
//
// Every POST needs `Authorization: Bearer <token>`, the token read from the environment
// variable the plan names (control.token_env, default CUTOVER_TOKEN) and compared in
// constant time; without a configured token every POST is refused. A request that does not
// fit the phase, or asks for what this version cannot do yet, answers 409 with the reason.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "cutover/control/http_server.h"
#include "cutover/orchestrator/cutover_runner.h"
#include "cutover/pipeline/forward_pipeline.h"
#include "cutover/plan/plan.h"
#include "cutover/verify/verification_service.h"

namespace cutover {

// How many differing keys the status answer lists; the report file has them all.
constexpr long kStatusKeyCap = 1000;

class ControlApi {
 public:
  ControlApi(const Plan& plan, PipelineStatus& status, VerificationService& verification,
             CutoverRunner& cutover);

  HttpResponse handle(const HttpRequest& request);

  // The name of the token's environment variable.
  static std::string token_variable(const Plan& plan);

 private:
  HttpResponse status_answer() const;
  HttpResponse post(const std::string& path, const HttpRequest& request);
  // POST /api/v1/switch and /api/v1/rollback.
  HttpResponse move_answer(Move move, const nlohmann::json& body);
  // Empty when the request carries the token; else the reason to refuse it.
  std::string authorization_problem(const HttpRequest& request) const;

  const Plan& plan_;
  PipelineStatus& status_;
  VerificationService& verification_;
  CutoverRunner& cutover_;
  std::string token_;
};

}  // namespace cutover
