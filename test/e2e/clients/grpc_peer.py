"""
A real gRPC peer (Debian's python3-grpcio, C core) for kcap's end-to-end tests: service
kcap.test.Echo with one method of each call kind, over raw bytes (no generated stubs).

  /usr/bin/python3 grpc_peer.py server --port P
      serves on 127.0.0.1:P, prints "ready 127.0.0.1:P" once it accepts calls, stops on SIGTERM.
  /usr/bin/python3 grpc_peer.py client --port P --rounds N
      makes N rounds of calls on one channel and prints, as one JSON line, what it itself did:
      {"calls": {METHOD: {STATUS: n}}, "messages": {METHOD: {"sent": a, "received": b}}}
      with METHOD as on the wire ("/kcap.test.Echo/Unary") and STATUS as grpc.StatusCode names it.

A request whose payload is b"fail:NAME" makes the server end the call with status NAME and a
grpc-message, after answering the messages it had to answer before (see Echo below), so the test
decides which statuses happen. A payload b"stream:K" asks ServerStream for K answers.
"""
import argparse
import json
import signal
import sys
import threading

import grpc

SERVICE = 'kcap.test.Echo'
FAIL = b'fail:'
STREAM = b'stream:'


def _fail_status(payload):
    """The status a b"fail:NAME" payload asks for, else None."""
    if not payload.startswith(FAIL):
        return None
    return grpc.StatusCode[payload[len(FAIL):].decode()]


def _abort(context, status):
    context.abort(status, 'kcap test asked for %s' % status.name)


def _stream_count(payload):
    """How many answers ServerStream gives: K from b"stream:K[...]", else 1."""
    if not payload.startswith(STREAM):
        return 1
    return int(payload[len(STREAM):].split(b':')[0])


class Echo:
    """The four methods; each echoes, and fails when a request says fail:NAME."""

    @staticmethod
    def unary(request, context):
        status = _fail_status(request)
        if status is not None:
            _abort(context, status)
        return request

    @staticmethod
    def server_stream(request, context):
        # b"stream:K:fail:NAME": K answers, then the status, so a failed call still has messages.
        for i in range(_stream_count(request)):
            yield b'answer %d' % i
        rest = request.split(b':', 2)[2] if request.count(b':') >= 2 else b''
        status = _fail_status(rest)
        if status is not None:
            _abort(context, status)

    @staticmethod
    def client_stream(request_iterator, context):
        # Every request is read before failing, so the client's sent count is what went on the wire.
        requests = list(request_iterator)
        for r in requests:
            status = _fail_status(r)
            if status is not None:
                _abort(context, status)
        return b'%d requests' % len(requests)

    @staticmethod
    def bidi(request_iterator, context):
        for r in request_iterator:
            status = _fail_status(r)
            if status is not None:
                _abort(context, status)
            yield r


def serve(port):
    server = grpc.server(_executor())
    handlers = {
        'Unary': grpc.unary_unary_rpc_method_handler(Echo.unary),
        'ServerStream': grpc.unary_stream_rpc_method_handler(Echo.server_stream),
        'ClientStream': grpc.stream_unary_rpc_method_handler(Echo.client_stream),
        'Bidi': grpc.stream_stream_rpc_method_handler(Echo.bidi),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    address = '127.0.0.1:%d' % port
    if server.add_insecure_port(address) != port:
        sys.exit('cannot listen on %s' % address)
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print('ready %s' % address, flush=True)
    stopped.wait()
    server.stop(0).wait()


def _executor():
    from concurrent.futures import ThreadPoolExecutor
    return ThreadPoolExecutor(max_workers=4)


class Tally:
    """What the client did, per method: calls by final status, messages each way."""

    def __init__(self):
        self.calls = {}
        self.messages = {}

    def call(self, method, status, sent, received):
        by_status = self.calls.setdefault(method, {})
        by_status[status.name] = by_status.get(status.name, 0) + 1
        m = self.messages.setdefault(method, {'sent': 0, 'received': 0})
        m['sent'] += sent
        m['received'] += received

    def json(self):
        return json.dumps({'calls': self.calls, 'messages': self.messages}, sort_keys=True)


def _method(name):
    return '/%s/%s' % (SERVICE, name)


class Client:
    """One channel (one HTTP/2 connection); each call's messages are counted as they go."""

    def __init__(self, port):
        self.channel = grpc.insecure_channel('127.0.0.1:%d' % port)
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.tally = Tally()

    def unary(self, payload):
        method = _method('Unary')
        try:
            self.channel.unary_unary(method)(payload, timeout=10)
            self.tally.call(method, grpc.StatusCode.OK, 1, 1)
        except grpc.RpcError as e:
            self.tally.call(method, e.code(), 1, 0)

    def server_stream(self, payload):
        method = _method('ServerStream')
        self._read_stream(method, self.channel.unary_stream(method)(payload, timeout=10), 1)

    def client_stream(self, payloads):
        method = _method('ClientStream')
        sent = [0]
        try:
            self.channel.stream_unary(method)(self._counted(payloads, sent), timeout=10)
            self.tally.call(method, grpc.StatusCode.OK, sent[0], 1)
        except grpc.RpcError as e:
            self.tally.call(method, e.code(), sent[0], 0)

    def bidi(self, payloads):
        method = _method('Bidi')
        sent = [0]
        self._read_stream(method, self.channel.stream_stream(method)(self._counted(payloads, sent), timeout=10), sent)

    def _read_stream(self, method, responses, sent):
        """Reads a streamed answer to its end; `sent` is a count or a one-item list filled as sent."""
        received = 0
        status = grpc.StatusCode.OK
        try:
            for _ in responses:
                received += 1
        except grpc.RpcError as e:
            status = e.code()
        self.tally.call(method, status, sent if isinstance(sent, int) else sent[0], received)

    @staticmethod
    def _counted(payloads, sent):
        for p in payloads:
            sent[0] += 1
            yield p


def run_client(port, rounds):
    """Each round: every call kind succeeding with several messages, and calls ending
    NOT_FOUND, INVALID_ARGUMENT and UNAVAILABLE (one of them after streamed answers)."""
    c = Client(port)
    for i in range(rounds):
        c.unary(b'hello %d' % i)
        c.server_stream(b'stream:3')
        c.client_stream([b'part %d' % k for k in range(4)])
        c.bidi([b'ping %d' % k for k in range(5)])
        c.unary(FAIL + b'NOT_FOUND')
        c.unary(FAIL + b'INVALID_ARGUMENT')
        c.server_stream(b'stream:2:' + FAIL + b'UNAVAILABLE')
        c.client_stream([b'part', b'part', FAIL + b'INVALID_ARGUMENT'])
        c.bidi([b'ping', FAIL + b'NOT_FOUND'])
    c.channel.close()
    print(c.tally.json(), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('mode', choices=['server', 'client'])
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--rounds', type=int, default=1)
    a = p.parse_args()
    if a.mode == 'server':
        serve(a.port)
    else:
        run_client(a.port, a.rounds)


if __name__ == '__main__':
    main()
