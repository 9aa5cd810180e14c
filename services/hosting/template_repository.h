#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace bizrelay::hosting {

struct TemplateRow {
  std::string name;
  std::string body;
  std::vector<std::string> parameters;
  // Serialized bizrelay.v1.ReplyButtons; empty: no quick replies.
  std::string quick_replies;
};

// A business's registered message templates. Every function runs in the caller's transaction.
class TemplateRepository {
 public:
  static void UpsertTemplate(pqxx::transaction_base& tx, const std::string& business_id,
                             const TemplateRow& t);
  static std::optional<TemplateRow> Template(pqxx::transaction_base& tx,
                                             const std::string& business_id,
                                             const std::string& name);
  static std::vector<TemplateRow> Templates(pqxx::transaction_base& tx,
                                            const std::string& business_id);
};

}  // namespace bizrelay::hosting
