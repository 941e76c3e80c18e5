// The FFI overhead of a login (BENCHMARKS.md): the same known login without IO (start,
// query, reply, approve, ident, reply: key derivation and two signatures), timed through the
// Kotlin bindings and, in the same process, in Rust (bench_rust_logins), alternating rounds.
// Run by crates/sqrl-ffi/benches/kotlin_overhead.sh.

import uniffi.sqrl_ffi.*

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
}
