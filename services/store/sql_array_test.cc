#include "services/store/sql_array.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "services/store/testing/test_postgres.h"

namespace bizrelay::store {
namespace {

// What PostgreSQL reads back out of each literal: the same strings, byte for byte.
TEST(SqlArrayTest, PostgresReadsBackEveryElementByteForByte) {
  const std::vector<std::string> values = {"plain",
                                           "",
                                           std::string("nul\0inside", 10),
                                           "quote\" and \\ backslash",
                                           "\xff\x80 high bytes",
                                           "{braces},commas"};
  std::vector<std::string> texts = values;
  texts[2] = "no nul in text";
  texts[4] = "utf-8 \xc3\xa9";
  pqxx::connection conn(testing::FreshDatabase());
  pqxx::nontransaction tx(conn);

  auto bytea_rows = tx.exec_params(
      "SELECT v FROM unnest($1::bytea[]) WITH ORDINALITY u(v, n) "
      "ORDER BY n",
      SqlByteaArray(values));
  auto text_rows = tx.exec_params(
      "SELECT v FROM unnest($1::text[]) WITH ORDINALITY u(v, n) "
      "ORDER BY n",
      SqlArray(texts));
  PackedBytes packed = PackBytes(values);
  auto packed_rows = tx.exec_params(
      "SELECT substring($1::bytea FROM s + 1 FOR l) FROM unnest($2::integer[], $3::integer[]) "
      "WITH ORDINALITY u(s, l, n) ORDER BY n",
      pqxx::binarystring(packed.bytes), packed.starts, packed.lengths);

  ASSERT_EQ(bytea_rows.size(), values.size());
  ASSERT_EQ(text_rows.size(), values.size());
  ASSERT_EQ(packed_rows.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(pqxx::binarystring(bytea_rows[i][0]).str(), values[i]) << i;
    EXPECT_EQ(text_rows[i][0].as<std::string>(), texts[i]) << i;
    EXPECT_EQ(pqxx::binarystring(packed_rows[i][0]).str(), values[i]) << i;
  }
}

// What libpqxx reads out of an array PostgreSQL returns: the strings SqlArray sent, quotes,
// backslashes, braces and commas included.
TEST(SqlArrayTest, ReadTextArrayReadsBackWhatSqlArraySent) {
  const std::vector<std::string> values = {"plain",           "",     "quote\" and \\ backslash",
                                           "{braces},commas", "NULL", "utf-8 \xc3\xa9"};
  pqxx::connection conn(testing::FreshDatabase());
  pqxx::nontransaction tx(conn);

  auto row =
      tx.exec_params1("SELECT $1::text[], '{}'::text[], '{a,NULL}'::text[]", SqlArray(values));

  EXPECT_EQ(ReadTextArray(row[0]), values);
  EXPECT_TRUE(ReadTextArray(row[1]).empty());
  EXPECT_THROW(ReadTextArray(row[2]), pqxx::conversion_error);
}

TEST(SqlArrayTest, PackedBytesOfNothingIsEmpty) {
  PackedBytes packed = PackBytes({});
  EXPECT_EQ(packed.bytes, "");
  EXPECT_EQ(packed.starts, "{}");
  EXPECT_EQ(packed.lengths, "{}");
}

}  // namespace
}  // namespace bizrelay::store
