"""A client bizrelay did not write: Python grpcio (Debian's python3-grpcio) talking to a running
bizrelayd. Exits 0 only if every check holds; prints what failed otherwise.

Usage: foundation_client.py STUBS_DIR PUBLIC_PORT OPERATOR_PORT OPERATOR_TOKEN
"""
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from bizrelay.v1 import account_service_pb2 as acc  # noqa: E402
from bizrelay.v1 import operator_service_pb2 as ops  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402


def call(channel, method, request, response_type, token=None):
    fn = channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=response_type.FromString)
    metadata = [("authorization", "Bearer " + token)] if token else None
    return fn(request, metadata=metadata, timeout=20)


def reason_of(error):
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


def expect_error(code, reason, fn):
    try:
        fn()
    except grpc.RpcError as e:
        if e.code() != code or (reason and reason_of(e) != reason):
            sys.exit(f"expected {code} {reason}, got {e.code()} {reason_of(e)}")
        return
    sys.exit(f"expected {code}, call succeeded")


def main():
    public = grpc.insecure_channel(f"127.0.0.1:{sys.argv[2]}")
    operator = grpc.insecure_channel(f"127.0.0.1:{sys.argv[3]}")
    op_token = sys.argv[4]

    created = call(operator, "/bizrelay.v1.OperatorService/CreateBusiness",
                   ops.CreateBusinessRequest(profile=ops.BusinessProfile(
                       display_name="Warung Python", website="https://warung.example")),
                   ops.CreateBusinessResponse, op_token)
    assert created.api_key.startswith("brb_"), created
    assert created.business.state == ops.BUSINESS_STATE_ACTIVE

    reg = call(public, "/bizrelay.v1.AccountService/RegisterUser",
               acc.RegisterUserRequest(display_name="Dewi"), acc.RegisterUserResponse)
    profile = call(public, "/bizrelay.v1.AccountService/GetProfile", acc.GetProfileRequest(),
                   acc.GetProfileResponse, reg.token)
    assert profile.profile.display_name == "Dewi", profile
    assert profile.profile.user_id == reg.profile.user_id

    expect_error(grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED",
                 lambda: call(public, "/bizrelay.v1.AccountService/GetProfile",
                              acc.GetProfileRequest(), acc.GetProfileResponse))
    expect_error(grpc.StatusCode.PERMISSION_DENIED, "WRONG_PRINCIPAL",
                 lambda: call(operator, "/bizrelay.v1.OperatorService/GetBusiness",
                              ops.GetBusinessRequest(business_id=created.business.business_id),
                              ops.GetBusinessResponse, reg.token))
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD",
                 lambda: call(public, "/bizrelay.v1.AccountService/RegisterUser",
                              acc.RegisterUserRequest(display_name=""), acc.RegisterUserResponse))
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
