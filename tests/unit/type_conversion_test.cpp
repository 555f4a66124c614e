#include "cutover/transform/type_conversion.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(TypeConversion, WideningConversionsLoseNothing) {
  const std::pair<std::string, std::string> lossless[] = {
      {"integer", "integer"},
      {"smallint", "integer"},
      {"integer", "bigint"},
      {"bigint", "numeric"},
      {"integer", "numeric(12,0)"},
      {"integer", "double precision"},
      {"real", "double precision"},
      {"numeric(10,2)", "numeric(12,2)"},
      {"numeric(10,2)", "numeric(12,4)"},
      {"numeric(10,2)", "numeric"},
      {"character varying(10)", "text"},
      {"character varying(10)", "character varying(20)"},
      {"character(84)", "text"},
      {"character(5)", "character varying(5)"},
      {"bigint", "text"},
      {"date", "timestamp with time zone"},
      {"timestamp(3) without time zone", "timestamp without time zone"},
      {"timestamp(3) with time zone", "timestamp(6) with time zone"},
      {"json", "jsonb"},
      {"integer[]", "bigint[]"},
  };
  for (const auto& [from, to] : lossless) EXPECT_EQ(conversion_loss(from, to), "") << from << " to " << to;
}

TEST(TypeConversion, NarrowingConversionsSayWhatCanBeLost) {
  const std::tuple<std::string, std::string, std::string> lossy[] = {
      {"text", "character varying(10)", "values longer than 10 characters"},
      {"character varying(50)", "character varying(10)", "values longer than 10 characters"},
      {"character varying(5)", "character(5)", "trailing spaces"},
      {"numeric(12,4)", "numeric(10,2)", "digits beyond numeric(10,2)"},
      {"numeric", "numeric(10,2)", "digits beyond numeric(10,2)"},
      {"bigint", "integer", "values beyond integer's range"},
      {"bigint", "double precision", "integers beyond 2^53"},
      {"integer", "numeric(5,0)", "values of more than 5 integer digits"},
      {"timestamp with time zone", "date", "values that do not convert back"},
      {"double precision", "integer", "values that do not convert back"},
      {"text", "mood", "values that do not convert back"},
      {"text", "integer", "values that do not convert back"},
      {"timestamp(6) without time zone", "timestamp(3) without time zone", "fractional seconds"},
      {"integer[]", "integer", "values that do not convert back"},
  };
  for (const auto& [from, to, loss] : lossy) {
    const std::string found = conversion_loss(from, to);
    EXPECT_NE(found.find(loss), std::string::npos) << from << " to " << to << ": " << found;
  }
}

}  // namespace
}  // namespace cutover
