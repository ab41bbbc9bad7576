#!/usr/bin/env python3
"""Cross-language site command round trip: a Python client declares a site through
resorption.v1.Sites, records its population with the returned revision, and reads it back with
GetSite, using only the descriptor set (no generated Python code).

Usage: sites_roundtrip_test.py PATH/TO/resorptiond PATH/TO/resorption.desc
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

SITES = "/resorption.v1.Sites/"


def load(desc_path, names):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(desc_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return {n: factory.GetPrototype(pool.FindMessageTypeByName("resorption.v1." + n))
            for n in names}


def start_server(binary, data_dir):
    proc = subprocess.Popen(
        [binary, "--listen=127.0.0.1:0", "--metrics-listen=", "--data-dir=" + data_dir],
        stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        entry = json.loads(line)
        if entry.get("event") == "server.started":
            return proc, entry["port"]
    raise RuntimeError("resorptiond exited before starting: %s" % proc.wait())


def main():
    binary, desc = sys.argv[1], sys.argv[2]
    m = load(desc, ["DeclareSiteRequest", "RecordPopulationRequest", "WriteResult",
                    "GetSiteRequest", "Site"])
    tmp = tempfile.mkdtemp(prefix="rb-python-sites-")
    proc, port = start_server(binary, os.path.join(tmp, "data"))
    try:
        channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        grpc.channel_ready_future(channel).result(timeout=10)

        # resorptiond requires bearer tokens: act as the bootstrap administrator.
        with open(os.path.join(tmp, "data", "bootstrap-admin.token")) as f:
            auth = (("authorization", "Bearer " + f.read().strip()),)

        def call(method, req, resp_type):
            return channel.unary_unary(SITES + method,
                                       request_serializer=lambda x: x.SerializeToString(),
                                       response_deserializer=resp_type.FromString)(
                req, metadata=auth, timeout=10)

        declare = m["DeclareSiteRequest"]()
        declare.site_id = "py-1"
        declare.options.command_id = "py-declare-1"
        site = declare.command.site
        site.name = "Les Lilas"
        site.location.address.label = "12 rue des Lilas 93200 Saint-Denis"
        site.location.address.city_code = "93066"
        site.location.address.coordinates.latitude = 48.936
        site.location.address.coordinates.longitude = 2.357
        site.field_type = 1  # FIELD_TYPE_LAND
        site.built_at.year, site.built_at.month, site.built_at.day = 2023, 1, 10
        site.declared_at.year, site.declared_at.month, site.declared_at.day = 2023, 2, 1
        first = call("DeclareSite", declare, m["WriteResult"])
        assert first.name == "sites/py-1", first
        assert first.position > 0, first
        retry = call("DeclareSite", declare, m["WriteResult"])
        assert retry.outcome == 3 and retry.position == first.position, retry  # REPLAYED

        pop = m["RecordPopulationRequest"]()
        pop.name = "sites/py-1"
        pop.options.expected_revision = first.revision
        pop.command.population.total = 42
        written = call("RecordPopulation", pop, m["WriteResult"])
        assert written.revision > first.revision, written

        try:
            call("RecordPopulation", pop, m["WriteResult"])  # now stale
            raise AssertionError("a stale expected revision must be refused")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.ABORTED, e

        get = m["GetSiteRequest"]()
        get.name = "sites/py-1"
        get.min_position = written.position
        got = call("GetSite", get, m["Site"])
        assert got.name == "Les Lilas" and got.population.total == 42, got
        assert got.revision == written.revision, got
        print("ok: declared, updated and read back sites/py-1 at revision %d" % got.revision)
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
