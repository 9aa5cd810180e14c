#include "services/cli/operator_commands.h"

#include "services/cli/format.h"

namespace bizrelay::cli {

int OperatorCommands::Do(const v1::CreateBusinessRequest& request) {
  v1::CreateBusinessResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.operator_service().CreateBusiness(ctx, request, &response);
  });
  session_.Print(response, FormatCreatedBusiness(response));
  return 0;
}

int OperatorCommands::Do(const v1::GetBusinessRequest& request) {
  v1::GetBusinessResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.operator_service().GetBusiness(ctx, request, &response); });
  session_.Print(response, FormatBusiness(response.business()));
  return 0;
}

int OperatorCommands::Do(const v1::RotateBusinessKeyRequest& request) {
  v1::RotateBusinessKeyResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.operator_service().RotateBusinessKey(ctx, request, &response);
  });
  session_.Print(response, FormatRotatedKey(response));
  return 0;
}

int OperatorCommands::Do(const v1::DisableBusinessRequest& request) {
  v1::DisableBusinessResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.operator_service().DisableBusiness(ctx, request, &response);
  });
  session_.Print(response, FormatBusiness(response.business()));
  return 0;
}

}  // namespace bizrelay::cli
