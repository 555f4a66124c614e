"""Apache Kafka (KRaft, one combined broker and controller) for the benchmarks, from the jars
scripts/install-kafka puts in .cache/kafka/libs: started with `java -cp`, on free loopback ports,
its data in a directory of the benchmark's own. The same broker the suite's fixture starts
(tests/fixtures/kafka_cluster.cpp), in Python."""
import base64, os, socket, subprocess, time, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBS = os.path.join(ROOT, ".cache", "kafka", "libs")


def _free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


class KafkaBroker:
    def __init__(self, work):
        if not os.path.exists(os.path.join(LIBS, ".pom-sha256")):
            raise SystemExit("Apache Kafka's jars are not in %s: run scripts/install-kafka" % LIBS)
        self.dir = os.path.join(work, "kafka")
        os.makedirs(self.dir, exist_ok=True)
        self.port, controller = _free_port(), _free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.config = os.path.join(self.dir, "server.properties")
        with open(self.config, "w") as out:
            out.write("\n".join([
                "process.roles=broker,controller", "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:%d" % controller,
                "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (self.port, controller),
                "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
                "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "log.dirs=" + os.path.join(self.dir, "data"), "num.partitions=1",
                "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1", "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1", "group.initial.rebalance.delay.ms=0", ""]))
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(["java", "-cp", LIBS + "/*", "kafka.tools.StorageTool", "format",
                        "--cluster-id=" + cluster_id, "-c", self.config], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.process = None
        self.start()

    def start(self):
        """Starts the broker (again, on the same port and data) and waits until it answers."""
        log = open(os.path.join(self.dir, "broker.log"), "a")
        self.process = subprocess.Popen(["java", "-Xms64m", "-Xmx1g", "-cp", LIBS + "/*", "kafka.Kafka", self.config],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the Kafka broker exited; see " + os.path.join(self.dir, "broker.log"))
            probe = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-m", "2"], capture_output=True, text=True)
            if probe.returncode == 0 and "1 brokers" in probe.stdout:
                return
            time.sleep(0.5)
        raise SystemExit("the Kafka broker did not answer within 90 s")

    def kill(self):
        """kill -9, as a crash."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
