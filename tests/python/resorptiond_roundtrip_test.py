#!/usr/bin/env python3
"""Cross-language round trip: a Python gRPC client against the real resorptiond binary.

Uses only Debian's python3-grpcio and python3-protobuf: the message classes come from the
descriptor set the build writes (build/proto/resorption.desc), so no generated Python code is
needed. Starts resorptiond on a free port with a temporary data directory, appends, reads,
subscribes to a few events and checks the standard health service.

Usage: resorptiond_roundtrip_test.py PATH/TO/resorptiond PATH/TO/resorption.desc
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SERVICE = "/resorption.v1.EventStream/"


def load_messages(desc_path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(desc_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    names = [
        "AppendRequest", "AppendResponse", "ReadStreamRequest", "ReadStreamResponse",
        "SubscribeRequest", "SubscribeResponse", "GetHeadRequest", "GetHeadResponse",
        "ExpectedRevision",
    ]
    factory = message_factory.MessageFactory(pool)
    return {n: factory.GetPrototype(pool.FindMessageTypeByName("resorption.v1." + n))
            for n in names}


def start_server(binary, data_dir):
    proc = subprocess.Popen(
        [binary, "--listen=127.0.0.1:0", "--metrics-listen=", "--data-dir=" + data_dir,
         "--auth=disabled"],
        stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        entry = json.loads(line)
        if entry.get("event") == "server.started":
            return proc, entry["port"]
    raise RuntimeError("resorptiond exited before starting: %s" % proc.wait())


def check_usage_errors(binary):
    """Bad flag values exit with status 2 and a line naming the flag and its rule."""
    for flag, rule in [("--owner-retention-days=0", "from 1 to 36500"),
                       ("--user-inactivity-days=-3", "from 0 to 36500"),
                       ("--erasure-interval=weekly", "duration such as 24h"),
                       ("--sync=maybe", "true or false")]:
        run = subprocess.run([binary, flag], capture_output=True, text=True, timeout=30)
        assert run.returncode == 2, (flag, run.returncode, run.stderr)
        assert flag.split("=")[0] in run.stderr and rule in run.stderr, (flag, run.stderr)


def main():
    binary, desc = sys.argv[1], sys.argv[2]
    check_usage_errors(binary)
    m = load_messages(desc)
    tmp = tempfile.mkdtemp(prefix="rb-python-")
    proc, port = start_server(binary, os.path.join(tmp, "data"))
    try:
        channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        grpc.channel_ready_future(channel).result(timeout=10)

        def unary(method, req_name, resp_name):
            return channel.unary_unary(SERVICE + method,
                                       request_serializer=lambda r: r.SerializeToString(),
                                       response_deserializer=m[resp_name].FromString)

        append = unary("Append", "AppendRequest", "AppendResponse")
        req = m["AppendRequest"](stream_id="site-75056-1", command_id="py-1")
        req.expected.kind = m["ExpectedRevision"].KIND_NO_STREAM
        req.metadata.actor_user = "analyst"
        for i in range(3):
            ev = req.events.add()
            ev.type = "site.declared" if i == 0 else "site.updated"
            ev.payload = ("payload %d" % i).encode()
        resp = append(req, timeout=10)
        assert (resp.first_position, resp.last_position, resp.stream_revision) == (1, 3, 2), resp
        assert append(req, timeout=10).replayed, "a retry with the same command id is replayed"

        # A stale expected revision is ABORTED.
        stale = m["AppendRequest"](stream_id="site-75056-1")
        stale.expected.kind = m["ExpectedRevision"].KIND_NO_STREAM
        stale.events.add(type="site.updated")
        try:
            append(stale, timeout=10)
            raise AssertionError("expected ABORTED")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.ABORTED, e

        read = unary("ReadStream", "ReadStreamRequest", "ReadStreamResponse")
        page = read(m["ReadStreamRequest"](stream_id="site-75056-1"), timeout=10)
        assert [e.revision for e in page.events] == [0, 1, 2]
        assert page.events[0].payload == b"payload 0"
        assert page.events[0].metadata.actor_user == "analyst"
        assert len(page.events[0].log_hash) == 64

        head = unary("GetHead", "GetHeadRequest", "GetHeadResponse")(m["GetHeadRequest"](),
                                                                      timeout=10)
        assert head.position == 3

        subscribe = channel.unary_stream(SERVICE + "Subscribe",
                                         request_serializer=lambda r: r.SerializeToString(),
                                         response_deserializer=m["SubscribeResponse"].FromString)
        stream = subscribe(m["SubscribeRequest"](from_position=2), timeout=10)
        seen = []
        for msg in stream:
            seen += [e.position for e in msg.batch.events]
            if msg.HasField("checkpoint") and msg.checkpoint.caught_up:
                break
        stream.cancel()
        assert seen == [2, 3], seen

        # grpc.health.v1.Health/Check: empty request; response field 1 = SERVING (1).
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        assert check(b"", timeout=10) == b"\x08\x01"
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    assert code == 0, "resorptiond exited with %d" % code
    print("python round trip: ok")


if __name__ == "__main__":
    main()
