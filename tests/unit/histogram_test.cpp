#include "cutover/common/histogram.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(Histogram, CountsObservationsCumulativelyPerUpperBound) {
  Histogram histogram{1, 10, 100};
  for (const double value : {0.5, 1.0, 5.0, 50.0, 500.0}) histogram.observe(value);
  EXPECT_EQ(histogram.cumulative(0), 2u);  // 0.5 and 1 (bounds are inclusive)
  EXPECT_EQ(histogram.cumulative(1), 3u);
  EXPECT_EQ(histogram.cumulative(2), 4u);
  EXPECT_EQ(histogram.count(), 5u);  // 500 only in +Inf
  EXPECT_DOUBLE_EQ(histogram.sum(), 556.5);
}

}  // namespace
}  // namespace cutover
