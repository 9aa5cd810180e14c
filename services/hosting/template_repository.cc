#include "services/hosting/template_repository.h"

#include "services/store/sql_array.h"

namespace bizrelay::hosting {
namespace {

constexpr const char* kUpsertTemplate =
    "INSERT INTO hosting.templates (business_id, name, body, parameters, quick_replies) "
    "VALUES ($1::uuid, $2, $3, $4::text[], nullif($5, ''::bytea)) ON CONFLICT (business_id, name) "
    "DO UPDATE SET body = excluded.body, parameters = excluded.parameters, "
    "  quick_replies = excluded.quick_replies, created_at = now()";
constexpr const char* kTemplate =
    "SELECT name, body, parameters, coalesce(quick_replies, ''::bytea) FROM hosting.templates "
    "WHERE business_id = $1::uuid AND name = $2";
constexpr const char* kTemplates =
    "SELECT name, body, parameters, coalesce(quick_replies, ''::bytea) FROM hosting.templates "
    "WHERE business_id = $1::uuid ORDER BY name";

}  // namespace

void TemplateRepository::UpsertTemplate(pqxx::transaction_base& tx, const std::string& business_id,
                                        const TemplateRow& t) {
  tx.exec_params0(kUpsertTemplate, business_id, t.name, t.body, store::SqlArray(t.parameters),
                  pqxx::binarystring(t.quick_replies));
}

std::optional<TemplateRow> TemplateRepository::Template(pqxx::transaction_base& tx,
                                                        const std::string& business_id,
                                                        const std::string& name) {
  auto rows = tx.exec_params(kTemplate, business_id, name);
  if (rows.empty()) return std::nullopt;
  return TemplateRow{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                     store::ReadTextArray(rows[0][2]), pqxx::binarystring(rows[0][3]).str()};
}

std::vector<TemplateRow> TemplateRepository::Templates(pqxx::transaction_base& tx,
                                                       const std::string& business_id) {
  std::vector<TemplateRow> out;
  for (const auto& r : tx.exec_params(kTemplates, business_id)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), store::ReadTextArray(r[2]),
                   pqxx::binarystring(r[3]).str()});
  }
  return out;
}

}  // namespace bizrelay::hosting
