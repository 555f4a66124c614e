// The dashboard (`GET /`): one HTML page with its script and style inline, served from the
// binary, so it works on a closed network. It polls /api/v1/status once a second and draws
// the phase, lag over time, per-table progress, the last verification and the last cutover's
// timeline; its buttons POST verify, switch and rollback with a token it asks for.
#pragma once

#include <string_view>

namespace cutover {

std::string_view dashboard_page();

}  // namespace cutover
