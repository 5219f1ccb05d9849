/*
 * The interop suite's Java client: Apache Kafka's kafka-clients and msgpack-core from Maven
 * Central (tests/interop/pom.xml), run as a single-file program:
 *
 *   java -cp 'JARS/*' InteropClient.java --brokers B --requests T --responses T --model M
 *        --version V --worker W --weights FILE.safetensors --manifest-sha256 HEX
 *
 * It builds requests from docs/schema.md alone, produces them with the request id as the
 * Kafka key, reads the answers with isolation.level=read_committed (the Java consumer's
 * default is read_uncommitted, which would also show the answers of aborted transactions:
 * docs/delivery.md; run.sh starts this client's worker with delivery=exactly_once), and checks
 * each answer: the response map, the numbers against its own forward pass of the weights
 * file (safetensors and the architecture read here, in plain Java), and the provenance
 * headers, kfleet-source-partition/-offset against the producer's own RecordMetadata.
 * Nothing of kfleet's code is used. Exit 0: every answer right; 1: the first wrong one.
 */
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.msgpack.value.Value;

public class InteropClient {
    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        for (String k : new String[] {"brokers", "requests", "responses", "model", "version", "worker",
                 "weights", "manifest-sha256"})
            if (!a.containsKey(k)) fail("missing --" + k);
        Mlp mlp = new Mlp(Files.readAllBytes(Path.of(a.get("weights"))));
        Random rnd = new Random(18);
        String run = "java-" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis();

        // id -> the case: inputs as the worker sees them (null: an error answer), error code
        Map<String, Case> cases = new LinkedHashMap<>();
        int[][] batches = {{1, 0}, {5, 0}, {3, 1}}; // rows, bf16 inputs?
        for (int[] b : batches) {
            double[][] x = new double[b[0]][mlp.inputWidth];
            for (double[] r : x)
                for (int c = 0; c < r.length; c++) r[c] = rnd.nextDouble() * 4 - 2;
            String dtype = b[1] == 1 ? "bf16" : "f32";
            if (b[1] == 1) // the worker widens bf16 inputs: the reference takes the bf16 values
                for (double[] r : x)
                    for (int c = 0; c < r.length; c++) r[c] = Mlp.bf16(r[c]);
            String id = run + "-" + dtype + "-" + b[0];
            cases.put(id, new Case(a.get("model"), dtype, x, null));
        }
        cases.put(run + "-unknown-model",
            new Case(a.get("model") + "-none", "f32", new double[1][mlp.inputWidth], "unknown_model"));

        Properties pp = new Properties();
        pp.put("bootstrap.servers", a.get("brokers"));
        Map<String, RecordMetadata> delivered = new HashMap<>();
        try (KafkaProducer<byte[], byte[]> p =
                 new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
            for (Map.Entry<String, Case> e : cases.entrySet())
                sent.add(p.send(new ProducerRecord<>(a.get("requests"),
                    e.getKey().getBytes(StandardCharsets.UTF_8), request(e.getKey(), e.getValue()))));
            int i = 0;
            for (String id : cases.keySet()) delivered.put(id, sent.get(i++).get());
        }

        Properties cp = new Properties();
        cp.put("bootstrap.servers", a.get("brokers"));
        cp.put("group.id", run);
        cp.put("auto.offset.reset", "earliest");
        cp.put("enable.auto.commit", "false");
        cp.put("isolation.level", "read_committed"); // not the Java default: see above
        Map<String, Boolean> answered = new HashMap<>();
        long deadline = System.currentTimeMillis() + 30_000;
        try (KafkaConsumer<byte[], byte[]> c =
                 new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(a.get("responses")));
            while (answered.size() < cases.size() && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> rec : c.poll(Duration.ofMillis(500))) {
                    Map<String, Value> resp = asMap(MessagePack.newDefaultUnpacker(rec.value()).unpackValue());
                    String id = str(resp.get("id"));
                    if (!cases.containsKey(id)) continue; // another client's answer
                    if (answered.put(id, true) != null) fail(id + ": answered twice");
                    check(a, mlp, id, cases.get(id), resp, rec, delivered.get(id));
                }
            }
        }
        for (String id : cases.keySet())
            if (!answered.containsKey(id)) fail("no answer in 30 s for " + id);
        System.out.println("interop java: " + answered.size() + " answers right (read_committed; "
            + "checked against the client's own forward pass), provenance headers right");
    }

    record Case(String model, String dtype, double[][] x, String errorCode) {}

    /** A request as docs/schema.md §1 describes it. */
    static byte[] request(String id, Case k) throws Exception {
        ByteBuffer data = ByteBuffer.allocate(k.x.length * k.x[0].length * (k.dtype.equals("f32") ? 4 : 2))
                              .order(ByteOrder.LITTLE_ENDIAN);
        for (double[] r : k.x)
            for (double v : r) {
                if (k.dtype.equals("f32")) data.putFloat((float) v);
                else data.putShort((short) (Float.floatToIntBits((float) v) >>> 16)); // exact: v is bf16
            }
        MessageBufferPacker m = MessagePack.newDefaultBufferPacker();
        m.packMapHeader(4);
        m.packString("v").packInt(1);
        m.packString("id").packString(id);
        m.packString("model").packString(k.model);
        m.packString("inputs").packMapHeader(3);
        m.packString("dtype").packString(k.dtype);
        m.packString("shape").packArrayHeader(2).packInt(k.x.length).packInt(k.x[0].length);
        m.packString("data").packBinaryHeader(data.capacity()).writePayload(data.array());
        m.close();
        return m.toByteArray();
    }

    static void check(Map<String, String> a, Mlp mlp, String id, Case k, Map<String, Value> resp,
                      ConsumerRecord<byte[], byte[]> rec, RecordMetadata req) {
        String where = id + ": ";
        need(new String(rec.key(), StandardCharsets.UTF_8).equals(id), where + "Kafka key is not the request's");
        Value v = resp.get("v");
        need(v != null && v.isIntegerValue() && v.asIntegerValue().toInt() == 1, where + "v is " + v + ", not 1");
        needEq(where + "model", str(resp.get("model")), k.model);
        needEq(where + "worker", str(resp.get("worker")), a.get("worker"));
        needEq(where + "header kfleet-model", header(rec, "kfleet-model"), k.model);
        needEq(where + "header kfleet-worker", header(rec, "kfleet-worker"), a.get("worker"));
        needEq(where + "header kfleet-source-partition", header(rec, "kfleet-source-partition"),
            Integer.toString(req.partition()));
        needEq(where + "header kfleet-source-offset", header(rec, "kfleet-source-offset"),
            Long.toString(req.offset()));
        if (k.errorCode != null) {
            needEq(where + "status", str(resp.get("status")), "error");
            Map<String, Value> err = asMap(resp.get("error"));
            needEq(where + "error.code", str(err.get("code")), k.errorCode);
            need(!str(err.get("message")).isEmpty(), where + "no error message");
            return;
        }
        needEq(where + "status", str(resp.get("status")), "ok");
        needEq(where + "version", str(resp.get("version")), a.get("version"));
        needEq(where + "header kfleet-version", header(rec, "kfleet-version"), a.get("version"));
        needEq(where + "header kfleet-manifest-sha256", header(rec, "kfleet-manifest-sha256"),
            a.get("manifest-sha256"));
        Map<String, Value> out = asMap(resp.get("outputs"));
        needEq(where + "outputs.dtype", str(out.get("dtype")), "f32");
        List<Value> shape = out.get("shape").asArrayValue().list();
        need(shape.size() == 2 && shape.get(0).asIntegerValue().toInt() == k.x.length
                 && shape.get(1).asIntegerValue().toInt() == mlp.outputWidth,
            where + "outputs.shape " + shape + ", not [" + k.x.length + ", " + mlp.outputWidth + "]");
        ByteBuffer data = ByteBuffer.wrap(out.get("data").asBinaryValue().asByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        need(data.capacity() == k.x.length * mlp.outputWidth * 4, where + "outputs.data has " + data.capacity() + " bytes");
        for (int r = 0; r < k.x.length; r++) {
            double[] want = mlp.forward(k.x[r]);
            for (int c = 0; c < want.length; c++) {
                double got = data.getFloat();
                need(Math.abs(got - want[c]) <= mlp.atol + mlp.rtol * Math.abs(want[c]),
                    where + "row " + r + " col " + c + ": got " + got + ", the reference says " + want[c]);
            }
        }
    }

    static String header(ConsumerRecord<byte[], byte[]> rec, String name) {
        Header h = rec.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    static Map<String, Value> asMap(Value v) {
        Map<String, Value> m = new HashMap<>();
        if (v == null || !v.isMapValue()) fail("expected a msgpack map, got " + v);
        for (Map.Entry<Value, Value> e : v.asMapValue().map().entrySet()) m.put(str(e.getKey()), e.getValue());
        return m;
    }

    static String str(Value v) {
        return v == null || v.isNilValue() ? "" : v.asStringValue().asString();
    }

    static void needEq(String what, String got, String want) {
        need(want.equals(got), what + " is " + (got == null ? "missing" : "'" + got + "'") + ", not '" + want + "'");
    }

    static void need(boolean ok, String why) {
        if (!ok) fail(why);
    }

    static void fail(String why) {
        System.err.println("interop java: FAIL: " + why);
        System.exit(1);
    }

    /**
     * The MLP of a safetensors file (docs/schema.md §4, §5) and its forward pass as
     * docs/kernels.md "Numerics" states it: y = x·Wᵀ + b with W [out, in]; a layer with f16 or
     * bf16 weights rounds its inputs to that dtype first; softmax per row. Sums in double.
     */
    static final class Mlp {
        final int inputWidth;
        int outputWidth;
        final boolean softmax;
        final List<double[][]> weights = new ArrayList<>();
        final List<double[]> biases = new ArrayList<>();
        final List<String> acts = new ArrayList<>(), dtypes = new ArrayList<>();
        double atol, rtol;

        Mlp(byte[] file) {
            ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            int n = (int) b.getLong(0);
            Map<String, Object> header = Json.object(new String(file, 8, n, StandardCharsets.UTF_8));
            int dataStart = 8 + n;
            @SuppressWarnings("unchecked")
            Map<String, Object> meta = (Map<String, Object>) header.get("__metadata__");
            Map<String, Object> arch = Json.object((String) meta.get("kfleet.architecture"));
            if (!"mlp".equals(arch.get("kind"))) fail("architecture kind " + arch.get("kind"));
            inputWidth = ((Number) arch.get("input_width")).intValue();
            softmax = "softmax".equals(arch.get("output"));
            int width = inputWidth;
            for (Object lo : (List<?>) arch.get("layers")) {
                @SuppressWarnings("unchecked")
                Map<String, Object> layer = (Map<String, Object>) lo;
                @SuppressWarnings("unchecked")
                Map<String, Object> wt = (Map<String, Object>) header.get((String) layer.get("weight"));
                List<?> shape = (List<?>) wt.get("shape");
                int out = ((Number) shape.get(0)).intValue(), in = ((Number) shape.get(1)).intValue();
                if (in != width) fail("layer takes " + in + " inputs, the previous gives " + width);
                double[] w = values(file, dataStart, wt);
                double[][] rows = new double[out][in];
                for (int o = 0; o < out; o++) System.arraycopy(w, o * in, rows[o], 0, in);
                weights.add(rows);
                Object bias = layer.get("bias");
                @SuppressWarnings("unchecked")
                double[] bv = bias == null ? new double[out]
                                           : values(file, dataStart, (Map<String, Object>) header.get((String) bias));
                biases.add(bv);
                acts.add(layer.get("activation") == null ? "none" : (String) layer.get("activation"));
                dtypes.add((String) wt.get("dtype"));
                width = out;
            }
            outputWidth = width;
            // |got - want| <= atol + rtol |want|: f32 sums differ in their rounding only; with
            // f16/bf16 weights an input near a rounding midpoint may round one ulp apart.
            switch (dtypes.get(0)) {
                case "F32" -> { atol = 1e-5; rtol = 1e-4; }
                case "F16" -> { atol = 5e-4; rtol = 5e-3; }
                default -> { atol = 4e-3; rtol = 3e-2; }
            }
        }

        static double[] values(byte[] file, int dataStart, Map<String, Object> t) {
            List<?> off = (List<?>) t.get("data_offsets");
            int begin = dataStart + ((Number) off.get(0)).intValue(), end = dataStart + ((Number) off.get(1)).intValue();
            ByteBuffer b = ByteBuffer.wrap(file, begin, end - begin).order(ByteOrder.LITTLE_ENDIAN);
            String dtype = (String) t.get("dtype");
            int size = dtype.equals("F32") ? 4 : 2;
            double[] v = new double[(end - begin) / size];
            for (int i = 0; i < v.length; i++) {
                switch (dtype) {
                    case "F32" -> v[i] = b.getFloat();
                    case "BF16" -> v[i] = Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
                    case "F16" -> v[i] = f16ToDouble(b.getShort() & 0xffff);
                    default -> fail("tensor dtype " + dtype);
                }
            }
            return v;
        }

        static double f16ToDouble(int h) {
            int exp = (h >>> 10) & 0x1f, frac = h & 0x3ff;
            double sign = (h & 0x8000) != 0 ? -1 : 1;
            if (exp == 0) return sign * frac * Math.pow(2, -24);
            if (exp == 31) return frac == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
            return sign * (1024 + frac) * Math.pow(2, exp - 25);
        }

        /** x as f32, then rounded to the nearest bf16 (ties to even). */
        static double bf16(double x) {
            int bits = Float.floatToIntBits((float) x);
            if (Float.isNaN((float) x)) return x;
            bits = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
            return Float.intBitsToFloat(bits);
        }

        static double f16(double x) { // x as f32, then the nearest f16 (ties to even), by search
            float f = (float) x;
            int lo = 0, hi = 0x7c00; // non-negative f16 bit patterns are ordered like their values
            double ax = Math.abs(f);
            while (hi - lo > 1) {
                int mid = (lo + hi) >>> 1;
                if (f16ToDouble(mid) <= ax) lo = mid; else hi = mid;
            }
            double dl = ax - f16ToDouble(lo), dh = f16ToDouble(hi) - ax;
            int pick = dl < dh || (dl == dh && (lo & 1) == 0) ? lo : hi;
            return Math.copySign(f16ToDouble(pick), f);
        }

        double[] forward(double[] x) {
            for (int l = 0; l < weights.size(); l++) {
                double[] in = new double[x.length];
                for (int i = 0; i < x.length; i++)
                    in[i] = switch (dtypes.get(l)) {
                        case "BF16" -> bf16(x[i]);
                        case "F16" -> f16(x[i]);
                        default -> (float) x[i];
                    };
                double[][] w = weights.get(l);
                double[] y = new double[w.length];
                for (int o = 0; o < w.length; o++) {
                    double s = biases.get(l)[o];
                    for (int i = 0; i < in.length; i++) s += w[o][i] * in[i];
                    y[o] = act(acts.get(l), s);
                }
                x = y;
            }
            if (softmax) {
                double m = Double.NEGATIVE_INFINITY, sum = 0;
                for (double v : x) m = Math.max(m, v);
                for (int i = 0; i < x.length; i++) sum += (x[i] = Math.exp(x[i] - m));
                for (int i = 0; i < x.length; i++) x[i] /= sum;
            }
            return x;
        }

        static double act(String a, double v) {
            return switch (a) {
                case "none" -> v;
                case "relu" -> v > 0 ? v : 0;
                case "tanh" -> Math.tanh(v);
                case "sigmoid" -> 1 / (1 + Math.exp(-v));
                case "gelu" -> 0.5 * v * (1 + erf(v / Math.sqrt(2)));
                default -> { fail("activation " + a); yield 0; }
            };
        }

        /** erf by its Maclaurin series (|x| < 3) or continued fraction: ~1e-15, plenty here. */
        static double erf(double x) {
            double ax = Math.abs(x);
            if (ax < 3) {
                double term = ax, sum = ax;
                for (int n = 1; n < 100; n++) {
                    term *= -ax * ax / n;
                    sum += term / (2 * n + 1);
                }
                return Math.copySign(2 / Math.sqrt(Math.PI) * sum, x);
            }
            double f = 0; // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
            for (int n = 60; n >= 1; n--) f = (n / 2.0) / (ax + f);
            return Math.copySign(1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f), x);
        }
    }

    /** Just enough JSON for a safetensors header: objects, arrays, strings, numbers, literals. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        @SuppressWarnings("unchecked")
        static Map<String, Object> object(String text) {
            Json j = new Json(text);
            Object v = j.value();
            j.ws();
            if (j.i != text.length() || !(v instanceof Map)) fail("not a JSON object: " + text);
            return (Map<String, Object>) v;
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        private Object value() {
            ws();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                ws();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws();
                    String k = string();
                    ws();
                    if (s.charAt(i++) != ':') fail("JSON: ':' expected at " + i);
                    m.put(k, value());
                    ws();
                    char d = s.charAt(i++);
                    if (d == '}') return m;
                    if (d != ',') fail("JSON: ',' expected at " + i);
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                ws();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) {
                    l.add(value());
                    ws();
                    char d = s.charAt(i++);
                    if (d == ']') return l;
                    if (d != ',') fail("JSON: ',' expected at " + i);
                }
            }
            if (c == '"') return string();
            for (String lit : new String[] {"true", "false", "null"})
                if (s.startsWith(lit, i)) {
                    i += lit.length();
                    return lit.equals("null") ? null : Boolean.valueOf(lit);
                }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            if (start == i) fail("JSON: unexpected '" + c + "' at " + i);
            return Double.valueOf(s.substring(start, i));
        }

        private String string() {
            if (s.charAt(i++) != '"') fail("JSON: string expected at " + i);
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> b.append(e); // \" \\ \/
                }
            }
        }
    }
}
