// The change-log topics on a team's own brokers, checked against the plan before anything is
// made: a topic someone made (or an older cutover made) with settings that lose changes is
// refused, naming the setting and the fix. The embedded broker's topics live and die with
// `cutover run` and are not checked.
#pragma once

#include <string>
#include <vector>

#include "cutover/plan/plan.h"
#include "cutover/transport/topic_admin.h"

namespace cutover {

struct TopicFindings {
  std::vector<std::string> problems;
  std::vector<std::string> warnings;
};

// How the plan's topics are made when they do not exist yet.
TopicSettings topic_settings_of(const Plan& plan);

// What the settings of `topic`, as the brokers describe it, mean for the plan.
TopicFindings judge_topic(const Plan& plan, const std::string& topic, const TopicDescription& described);

// Describes the plan's topics (forward and reverse) on its brokers and judges those that exist;
// the brokers' error (retryable when they did not answer) when they cannot be described.
Result<TopicFindings> check_change_log_topics(const Plan& plan);

}  // namespace cutover
