// Whether converting a value of one PostgreSQL type to another can lose information: the
// rule behind validation's warnings and behind verification's choice of how to prove a
// column (see TableComparison).
//
// A conversion is lossless when every value of `from`, converted to `to` and back, is the
// value it was: int to bigint, varchar(10) to text, numeric(10,2) to numeric(12,2), date to
// timestamp. Anything else can lose data (text to varchar(10), numeric scale, bigint to int,
// timestamptz to date, float to int, text to an enum), including every pair the table does
// not know: for those, verification compares green's value cast back to `from` with blue's.
#pragma once

#include <string>

namespace cutover {

// Empty when lossless; otherwise what can be lost, for messages ("values longer than 10
// characters"). Types are in format_type() form, as the catalogs give them.
std::string conversion_loss(const std::string& from, const std::string& to);

// Whether every value the conversion cannot carry is refused with an error, on assignment and
// explicit cast alike, rather than changed: an integer into a narrower integer ("integer out of
// range"). Such a loss stops the pipeline at the first value; it never writes a wrong one.
bool conversion_refuses_what_it_cannot_carry(const std::string& from, const std::string& to);

}  // namespace cutover
