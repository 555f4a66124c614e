#include "cutover/capture/relation_cache.h"

namespace cutover {

namespace {
// The built-in types whose OIDs are fixed in every PostgreSQL (pg_type.dat).
const char* builtin_type_name(std::uint32_t oid) {
  switch (oid) {
    case 16: return "bool";
    case 17: return "bytea";
    case 18: return "char";
    case 19: return "name";
    case 20: return "int8";
    case 21: return "int2";
    case 23: return "int4";
    case 25: return "text";
    case 26: return "oid";
    case 114: return "json";
    case 142: return "xml";
    case 700: return "float4";
    case 701: return "float8";
    case 790: return "money";
    case 829: return "macaddr";
    case 869: return "inet";
    case 650: return "cidr";
    case 1042: return "bpchar";
    case 1043: return "varchar";
    case 1082: return "date";
    case 1083: return "time";
    case 1114: return "timestamp";
    case 1184: return "timestamptz";
    case 1186: return "interval";
    case 1266: return "timetz";
    case 1560: return "bit";
    case 1562: return "varbit";
    case 1700: return "numeric";
    case 2950: return "uuid";
    case 3614: return "tsvector";
    case 3802: return "jsonb";
    case 3904: return "int4range";
    case 3906: return "numrange";
    case 3908: return "tsrange";
    case 3910: return "tstzrange";
    case 3912: return "daterange";
    case 3926: return "int8range";
    case 1000: return "bool[]";
    case 1001: return "bytea[]";
    case 1005: return "int2[]";
    case 1007: return "int4[]";
    case 1009: return "text[]";
    case 1015: return "varchar[]";
    case 1016: return "int8[]";
    case 1021: return "float4[]";
    case 1022: return "float8[]";
    case 1115: return "timestamp[]";
    case 1185: return "timestamptz[]";
    case 1231: return "numeric[]";
    case 2951: return "uuid[]";
    case 3807: return "jsonb[]";
    case 143: return "xml[]";
    case 199: return "json[]";
    case 600: return "point";
    case 601: return "lseg";
    case 602: return "path";
    case 603: return "box";
    case 604: return "polygon";
    case 628: return "line";
    case 651: return "cidr[]";
    case 718: return "circle";
    case 774: return "macaddr8";
    case 791: return "money[]";
    case 1002: return "char[]";
    case 1003: return "name[]";
    case 1014: return "bpchar[]";
    case 1017: return "point[]";
    case 1028: return "oid[]";
    case 1040: return "macaddr[]";
    case 1041: return "inet[]";
    case 1182: return "date[]";
    case 1183: return "time[]";
    case 1187: return "interval[]";
    case 1270: return "timetz[]";
    case 1561: return "bit[]";
    case 1563: return "varbit[]";
    case 3220: return "pg_lsn";
    case 3615: return "tsquery";
    case 3643: return "tsvector[]";
    case 3905: return "int4range[]";
    case 3907: return "numrange[]";
    case 3909: return "tsrange[]";
    case 3911: return "tstzrange[]";
    case 3913: return "daterange[]";
    case 3927: return "int8range[]";
    case 4451: return "int4multirange";
    case 4532: return "nummultirange";
    case 4533: return "tsmultirange";
    case 4534: return "tstzmultirange";
    case 4535: return "datemultirange";
    case 4536: return "int8multirange";
    default: return nullptr;
  }
}
}  // namespace

void RelationCache::remember(pgoutput::Relation relation) {
  const auto oid = relation.oid;
  relations_.insert_or_assign(oid, std::move(relation));
}

void RelationCache::remember(const pgoutput::Type& type) {
  type_names_[type.oid] = type.schema + "." + type.name;
}

const pgoutput::Relation* RelationCache::find(std::uint32_t oid) const {
  const auto found = relations_.find(oid);
  return found == relations_.end() ? nullptr : &found->second;
}

std::string RelationCache::type_name(std::uint32_t type_oid) const {
  if (const char* builtin = builtin_type_name(type_oid)) return builtin;
  const auto found = type_names_.find(type_oid);
  if (found != type_names_.end()) return found->second;
  return "oid:" + std::to_string(type_oid);
}

}  // namespace cutover
