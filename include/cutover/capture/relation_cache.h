// RelationCache: what capture knows of blue's tables and types from the stream itself.
//
// pgoutput sends a Relation message before the first change to a table in a session and
// again after every ALTER TABLE, so replacing the entry on each message is what makes
// capture follow schema changes mid-stream. Type messages name the non-built-in types
// (enums, domains, composites) that the relations use.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "cutover/capture/pgoutput_decoder.h"

namespace cutover {

class RelationCache {
 public:
  void remember(pgoutput::Relation relation);
  void remember(const pgoutput::Type& type);

  // nullptr when the stream has not described the relation yet (a protocol error).
  const pgoutput::Relation* find(std::uint32_t oid) const;
  // "int4", "public.mood", or "oid:12345" when the type is neither built in nor described.
  std::string type_name(std::uint32_t type_oid) const;

 private:
  std::unordered_map<std::uint32_t, pgoutput::Relation> relations_;
  std::unordered_map<std::uint32_t, std::string> type_names_;
};

}  // namespace cutover
