// A phone app's life with SQRL on the JVM, run by crates/sqrl-ffi/tests/bindings.rs:
// an identity is made, stored, restored and unlocked, then logs in to sqrl-site over HTTPS
// with java.net.http trusting the site's own CA: new account, known login with the site's
// question answered and declined, cancelled, CPS, disable, enable with the rescue code,
// re-key. The first login is the README's example (ReadmeLogin.kt, cut from README.md by
// the test). Arguments: the site's https:// address and its CA's PEM file.

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest as JHttpRequest
import java.net.http.HttpResponse
import java.security.KeyStore
import java.security.cert.CertificateFactory
import java.time.Duration
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import uniffi.sqrl_ffi.*

const val PASSWORD = "correct horse battery staple"

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

/** An SSL context that trusts exactly the site's CA. */
fun trusting(caPem: String): SSLContext {
    val ca = File(caPem).inputStream().use { CertificateFactory.getInstance("X.509").generateCertificate(it) }
    val store = KeyStore.getInstance(KeyStore.getDefaultType())
    store.load(null, null)
    store.setCertificateEntry("sqrl-site", ca)
    val trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm())
    trust.init(store)
    val context = SSLContext.getInstance("TLS")
    context.init(null, trust.trustManagers, null)
    return context
}

class Http(val tls: SSLContext) {
    /** A client trusting the site's CA (the app's, or one browser's). */
    fun client(): HttpClient = HttpClient.newBuilder()
        .sslContext(tls)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(Duration.ofSeconds(20))
        .build()
}

/** The page that shows the code, keeping its cookies by hand (as a browser would). */
class Browser(val base: String, val client: HttpClient) {
    private val cookies = linkedMapOf<String, String>()

    private fun send(request: JHttpRequest.Builder): HttpResponse<String> {
        if (cookies.isNotEmpty()) {
            request.header("Cookie", cookies.entries.joinToString("; ") { "${it.key}=${it.value}" })
        }
        val reply = client.send(request.build(), HttpResponse.BodyHandlers.ofString())
        for (set in reply.headers().allValues("set-cookie")) {
            val pair = set.substringBefore(';')
            cookies[pair.substringBefore('=')] = pair.substringAfter('=')
        }
        return reply
    }

    fun post(path: String): HttpResponse<String> =
        send(JHttpRequest.newBuilder(URI.create(base + path)).POST(JHttpRequest.BodyPublishers.noBody()))

    fun get(url: String): HttpResponse<String> = send(JHttpRequest.newBuilder(URI.create(url)).GET())

    fun newCode(): String {
        val reply = post("/sqrl/new")
        check(reply.statusCode() == 200) { "new code: ${reply.statusCode()} ${reply.body()}" }
        return Regex("\"url\"\\s*:\\s*\"([^\"]+)\"").find(reply.body())!!.groupValues[1]
    }

    fun redeem(): Int {
        val reply = post("/sqrl/redeem")
        if (reply.statusCode() != 200) println("redeem: ${reply.statusCode()} ${reply.body()} ${reply.headers().map()}")
        return reply.statusCode()
    }
}

/** Runs an exchange with the app's own HTTP client; `decide` answers the prompt. */
fun run(app: HttpClient, exchange: SqrlExchange, decide: (Prompt) -> Decision): Outcome {
    var step: ExchangeStep = ExchangeStep.Send(exchange.firstRequest())
    repeat(16) {
        when (val current = step) {
            is ExchangeStep.Send -> {
                val request = JHttpRequest.newBuilder(URI.create(current.request.url))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(JHttpRequest.BodyPublishers.ofString(current.request.body))
                    .build()
                step = try {
                    val reply = app.send(request, HttpResponse.BodyHandlers.ofString())
                    exchange.receive(reply.statusCode().toUShort(), reply.body())
                } catch (e: java.io.IOException) {
                    exchange.sendFailed(e.toString())
                }
            }
            is ExchangeStep.Confirm -> step = exchange.decide(decide(current.prompt))
            is ExchangeStep.Done -> return current.outcome
        }
    }
    throw AssertionError("the exchange did not end")
}

class Counting(val stopAfter: Int = Int.MAX_VALUE) : ProgressListener {
    var calls = 0
    override fun onProgress(stage: StretchStage, done: ULong, total: ULong): Boolean {
        calls += 1
        return calls < stopAfter
    }
}

fun main(args: Array<String>) {
    val base = args[0]
    val http = Http(trusting(args[1]))
    val app = http.client()
    val fast = Stretch.Iterations(2u)

    // Create: the rescue code is shown once; progress reaches the listener.
    val listener = Counting()
    val made = createIdentity(PASSWORD, fast, listener)
    check(listener.calls == 4) { "progress calls: ${listener.calls}" }
    var rescue = made.rescueCode.grouped()
    check(normalizeRescueCode(rescue.replace("-", " ")) == rescue) { "rescue code" }

    // Stored as a file, restored, unlocked; cancel and a wrong password are typed errors.
    val stored = made.identity.exportBytes()
    val identity = Identity.importBytes(stored)
    try {
        identity.unlock(PASSWORD, Counting(stopAfter = 1)); throw AssertionError("not cancelled")
    } catch (e: SqrlException.Cancelled) {
    }
    try {
        identity.unlock("wrong", null); throw AssertionError("wrong password accepted")
    } catch (e: SqrlException.WrongPassword) {
        check(e.message == "Wrong password.") { "message: ${e.message}" }
    }
    var keys = identity.unlock(PASSWORD, null)

    // The printed textual identity, typed back with a new password, is the same identity.
    val paper = identity.exportTextual()
    val typed = Identity.importText("  " + paper.replace(" ", "  ") + "\n")
    check(!typed.hasPassword()) { "a textual identity has no password" }
    val restored = typed.setPasswordWithRescueCode(RescueCode.parse(rescue), "new password", fast, null)
    val site = "sqrl://" + base.removePrefix("https://") + "/sqrl?nut=x"
    check(restored.unlock("new password", null).publicKey(site, "") == keys.publicKey(site, "")) {
        "the restored identity has another key"
    }

    // New account, with the README's login (its default HttpClient trusts the site's CA).
    SSLContext.setDefault(http.tls)
    var browser = Browser(base, http.client())
    var outcome = login(stored, PASSWORD, browser.newCode()) { prompt ->
        check(!prompt.known && prompt.ipsMatched) { "prompt: $prompt" }
        Decision.Approve
    }
    check(outcome.kind == OutcomeKind.NEW_ACCOUNT) { "outcome: $outcome" }
    check(browser.redeem() == 200) { "redeem after new account" }
    println("new account")

    // Known login: the site asks "Log in / Cancel"; button 1 logs in.
    browser = Browser(base, http.client())
    outcome = run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.LOGIN, ExchangeOptions())) { prompt ->
        check(prompt.known) { "prompt: $prompt" }
        val question = prompt.question ?: throw AssertionError("the site asked nothing")
        check(question.buttons.size == 2) { "question: $question" }
        Decision.Button(1u)
    }
    check(outcome.kind == OutcomeKind.LOGGED_IN) { "outcome: $outcome" }
    check(browser.redeem() == 200) { "redeem after known login" }
    println("known login")
    println("question answered")

    // Declined with the site's button 2: the site refuses, the browser is not logged in.
    browser = Browser(base, http.client())
    try {
        run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.LOGIN, ExchangeOptions())) { Decision.Button(2u) }
        throw AssertionError("button 2 logged in")
    } catch (e: SqrlException) {
        println("question declined: ${e.message}")
    }
    check(browser.redeem() != 200) { "redeem after button 2" }

    // Cancelled in the app: the site is told, the exchange ends as declined.
    browser = Browser(base, http.client())
    try {
        run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.LOGIN, ExchangeOptions())) { Decision.Cancel }
        throw AssertionError("cancel logged in")
    } catch (e: SqrlException.Declined) {
        println("cancelled")
    }
    check(browser.redeem() != 200) { "redeem after cancel" }

    // CPS: the app gets the address that logs in the browser that opens it.
    browser = Browser(base, http.client())
    outcome = run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.LOGIN, ExchangeOptions(cps = true))) {
        Decision.Button(1u)
    }
    val open = outcome.openUrl ?: throw AssertionError("no CPS url: $outcome")
    check(open.startsWith(base)) { "CPS url $open" }
    val opened = browser.get(open)
    check(opened.statusCode() in 300..399) { "CPS link: ${opened.statusCode()}" }
    check(browser.get("$base/account").statusCode() == 200) { "account after CPS" }
    println("cps")

    // Disable (a lost phone): logins are refused until the rescue code enables SQRL again.
    fun answer(prompt: Prompt): Decision = if (prompt.question != null) Decision.Button(1u) else Decision.Approve
    browser = Browser(base, http.client())
    outcome = run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.DISABLE, ExchangeOptions()), ::answer)
    check(outcome.kind == OutcomeKind.DISABLED && tifSqrlDisabled(outcome.tif)) { "outcome: $outcome" }
    try {
        run(app, SqrlExchange.start(keys, Browser(base, http.client()).newCode(), SqrlAction.LOGIN, ExchangeOptions()), ::answer)
        throw AssertionError("logged in while disabled")
    } catch (e: SqrlException.SqrlDisabled) {
    }
    try {
        SqrlExchange.start(keys, Browser(base, http.client()).newCode(), SqrlAction.ENABLE, ExchangeOptions())
        throw AssertionError("enabled without the rescue code")
    } catch (e: SqrlException.NeedsRescueCode) {
    }
    println("disabled")
    val rescueKeys = identity.unlockWithRescueCode(RescueCode.parse(rescue), null)
    outcome = run(app, SqrlExchange.start(rescueKeys, Browser(base, http.client()).newCode(), SqrlAction.ENABLE, ExchangeOptions()), ::answer)
    check(outcome.kind == OutcomeKind.ENABLED) { "outcome: $outcome" }
    browser = Browser(base, http.client())
    outcome = run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.LOGIN, ExchangeOptions()), ::answer)
    check(outcome.kind == OutcomeKind.LOGGED_IN && browser.redeem() == 200) { "login after enable: $outcome" }
    println("enabled")

    // Re-key: a new key and rescue code; the site moves to the new key at the next login.
    val rekeyed = identity.rekey(RescueCode.parse(rescue), PASSWORD, fast, null)
    rescue = rekeyed.rescueCode.grouped()
    keys = rekeyed.identity.unlock(PASSWORD, null)
    browser = Browser(base, http.client())
    outcome = run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.LOGIN, ExchangeOptions())) { prompt ->
        check(prompt.replacesPrevious) { "prompt: $prompt" }
        answer(prompt)
    }
    check(outcome.kind == OutcomeKind.REKEYED && browser.redeem() == 200) { "outcome: $outcome" }
    browser = Browser(base, http.client())
    outcome = run(app, SqrlExchange.start(keys, browser.newCode(), SqrlAction.LOGIN, ExchangeOptions()), ::answer)
    check(outcome.kind == OutcomeKind.LOGGED_IN && browser.redeem() == 200) { "after re-key: $outcome" }
    println("rekeyed")
    println("all ok")
}
