# Writes OUT: a C++ file defining `const std::vector<EmbeddedSql>& NAMESPACE::TABLE()` with the
# content of each file in FILES (sorted by path), named by its path below BASE, as raw string
# literals.
set(body "")
string(REPLACE "|" ";" FILES "${FILES}")
list(SORT FILES)
foreach(f ${FILES})
  file(RELATIVE_PATH name ${BASE} ${f})
  file(READ ${f} text)
  string(APPEND body "      {\"${name}\", R\"bizrelay_sql(${text})bizrelay_sql\"},\n")
endforeach()
file(WRITE ${OUT} "// Generated from SQL files; do not edit.\n#include \"services/store/embedded_sql.h\"\n\nnamespace ${NAMESPACE} {\n\nconst std::vector<EmbeddedSql>& ${TABLE}() {\n  static const std::vector<EmbeddedSql> kFiles = {\n${body}  };\n  return kFiles;\n}\n\n}  // namespace ${NAMESPACE}\n")
