// The FFI overhead of a login (BENCHMARKS.md): the same known login without IO (start,
// query, reply, approve, ident, reply: key derivation and two signatures), timed through the
// Kotlin bindings and, in the same process, in Rust (bench_rust_logins), alternating rounds.
// Run by crates/sqrl-ffi/benches/kotlin_overhead.sh.

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest as Post
import java.net.http.HttpResponse.BodyHandlers
import java.security.KeyStore
import java.security.cert.CertificateFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import uniffi.sqrl_ffi.*

/** With a running sqrl-site (its https:// base and CA file): the median wall time of the
 * exchange of a known login over HTTPS with java.net.http, to put the overhead in
 * proportion. */
fun siteLogin(keys: UnlockedIdentity, base: String, caPem: String, count: Int): Double {
    val ca = File(caPem).inputStream().use { CertificateFactory.getInstance("X.509").generateCertificate(it) }
    val store = KeyStore.getInstance(KeyStore.getDefaultType()).apply { load(null, null); setCertificateEntry("site", ca) }
    val trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(store) }
    val tls = SSLContext.getInstance("TLS").apply { init(null, trust.trustManagers, null) }
    val http = HttpClient.newBuilder().sslContext(tls).build()
    fun post(url: String, body: String) = http.send(
        Post.newBuilder(URI.create(url)).header("Content-Type", "application/x-www-form-urlencoded")
            .POST(Post.BodyPublishers.ofString(body)).build(), BodyHandlers.ofString())
    val times = mutableListOf<Double>()
    repeat(count + 1) { i ->
        val code = Regex("\"url\"\\s*:\\s*\"([^\"]+)\"").find(post("$base/sqrl/new", "").body())!!.groupValues[1]
        val started = System.nanoTime()
        val exchange = SqrlExchange.start(keys, code, SqrlAction.LOGIN, ExchangeOptions())
        var step: ExchangeStep = ExchangeStep.Send(exchange.firstRequest())
        while (step !is ExchangeStep.Done) {
            step = when (val s = step) {
                is ExchangeStep.Send -> post(s.request.url, s.request.body).let { exchange.receive(it.statusCode().toUShort(), it.body()) }
                is ExchangeStep.Confirm -> exchange.decide(if (s.prompt.question != null) Decision.Button(1u) else Decision.Approve)
                is ExchangeStep.Done -> step
            }
        }
        if (i > 0) times += (System.nanoTime() - started) / 1000.0 // the first made the account
    }
    return times.sorted()[times.size / 2]
}

fun main(args: Array<String>) {
    val count = args.getOrElse(0) { "2000" }.toInt()
    val rounds = args.getOrElse(1) { "7" }.toInt()
    val keys = createIdentity("pw", Stretch.Iterations(1u), null).identity.unlock("pw", null)
    val (first, second) = benchReplies()

    fun kotlinLogins(n: Int): Long {
        val started = System.nanoTime()
        repeat(n) {
            val exchange = SqrlExchange.start(keys, "sqrl://example.com/sqrl?nut=n1", SqrlAction.LOGIN, ExchangeOptions())
            exchange.firstRequest()
            check(exchange.receive(200u, first) is ExchangeStep.Confirm)
            check(exchange.decide(Decision.Approve) is ExchangeStep.Send)
            check(exchange.receive(200u, second) is ExchangeStep.Done)
            exchange.close()
        }
        return System.nanoTime() - started
    }

    kotlinLogins(count) // warm-up: JIT, caches
    benchRustLogins(keys, count.toUInt())
    val viaKotlin = mutableListOf<Double>()
    val inRust = mutableListOf<Double>()
    repeat(rounds) {
        viaKotlin += kotlinLogins(count) / 1000.0 / count
        inRust += benchRustLogins(keys, count.toUInt()).toDouble() / 1000.0 / count
    }
    val k = viaKotlin.sorted()[rounds / 2]
    val r = inRust.sorted()[rounds / 2]
    println("logins per round: $count, rounds: $rounds (medians)")
    println("rust:   %.1f us per login".format(r))
    println("kotlin: %.1f us per login".format(k))
    println("overhead: %.1f us per login (%.1f %%)".format(k - r, (k - r) / r * 100))
    if (args.size >= 4) {
        val whole = siteLogin(keys, args[2], args[3], 50)
        println("whole login exchange over HTTPS (loopback sqrl-site): %.1f us median".format(whole))
        println("overhead share of it: %.1f %%".format((k - r) / whole * 100))
    }
}
