//! The real [`Wire`]: sqrl-client's HTTPS transport, and codes from a login page, a code URL
//! or a command.

use sqrl_client::transport::HttpTransport;

use super::codes::{code_from_answer, find_code, sqrl_link, CodeSource};
use super::report::{Answer, Wire};

/// Largest login page or code answer read.
const MAX_PAGE: u64 = 512 * 1024;

/// Where fresh codes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Codes {
    /// A login page, not yet read.
    Page(String),
    /// A login page whose `sqrl://` link is fresh on each load.
    PageLink(String),
    /// A login page whose QR code image is fresh on each load.
    PageImages(String),
    /// A code URL: GET (or POST, when GET is refused) answers a code.
    Url(String),
    /// A shell command that prints a fresh `sqrl://` URL.
    Command(String),
    /// One code given on the command line, used once.
    Once(Option<String>),
}

/// Reads the `sqrl://` URL of a QR code in a picture (PNG or JPEG bytes).
pub type QrReader = fn(&[u8]) -> Result<String, String>;

/// Largest image read for its QR code.
const MAX_IMAGE: u64 = 2 * 1024 * 1024;

/// The battery's wire over HTTP(S).
#[derive(Debug)]
pub struct HttpWire {
    transport: HttpTransport,
    codes: Codes,
    /// A code fetched ahead by [`HttpWire::first_code`].
    pending: Option<String>,
    /// Reads a login page's QR code image (`None`: images are not tried).
    qr_reader: Option<QrReader>,
}

fn answer(reply: sqrl_client::transport::HttpReply) -> Answer {
    Answer {
        status: reply.status,
        location: reply.location,
        body: String::from_utf8_lossy(&reply.body).into_owned(),
    }
}

impl HttpWire {
    /// Codes from `target`: a `sqrl://` URL (one code only) or a login page; `code_url` or
    /// `code_command`, when given, take precedence for fresh codes.
    pub fn new(
        transport: HttpTransport,
        target: Option<&str>,
        code_url: Option<&str>,
        code_command: Option<&str>,
    ) -> Result<Self, String> {
        let codes = match (code_url, code_command, target) {
            (Some(url), _, _) => Codes::Url(url.to_owned()),
            (None, Some(command), _) => Codes::Command(command.to_owned()),
            (None, None, Some(t))
                if t.get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("sqrl://")) =>
            {
                Codes::Once(Some(t.to_owned()))
            }
            (None, None, Some(t)) if t.starts_with("https://") || t.starts_with("http://") => {
                Codes::Page(t.to_owned())
            }
            (None, None, Some(t)) => {
                return Err(format!(
                    "{t} is neither a login page (http(s)://) nor a sqrl:// URL"
                ))
            }
            (None, None, None) => {
                return Err("give a login page, a sqrl:// URL, --code-url or --code-command".into())
            }
        };
        Ok(Self {
            transport,
            codes,
            pending: None,
            qr_reader: None,
        })
    }

    /// Also finds codes in a login page's QR code image, read by `reader`, when the page has
    /// neither a `sqrl://` link nor our widget.
    pub fn with_qr_reader(mut self, reader: QrReader) -> Self {
        self.qr_reader = Some(reader);
        self
    }

    /// The first `sqrl://` URL in the QR code of one of the page's images.
    fn code_from_images(&self, page: &str) -> Result<Option<String>, String> {
        let reader = self
            .qr_reader
            .ok_or_else(|| format!("{page} shows its code only as an image"))?;
        let html = self.fetch(page, None)?;
        let mut why = format!("no image of {page} holds a sqrl:// QR code");
        for image in super::codes::image_urls(page, &html.body) {
            let got = self
                .transport
                .fetch(&image, None, MAX_IMAGE)
                .map_err(|e| format!("{image}: {e}"))?;
            if !(200..300).contains(&got.status) {
                continue;
            }
            match reader(&got.body) {
                Ok(code) => return Ok(Some(code)),
                Err(e) => why = format!("{image}: {e}"),
            }
        }
        Err(why)
    }

    /// Fetches the first code now, so that a server that cannot be reached (or a login page
    /// without a code) is one clear error rather than every check failing; the battery gets
    /// this code first.
    pub fn first_code(&mut self) -> Result<(), String> {
        match self.fresh_code()? {
            Some(code) => {
                self.pending = Some(code);
                Ok(())
            }
            None => Err("no code to start with".into()),
        }
    }

    fn fetch(&self, url: &str, body: Option<&str>) -> Result<Answer, String> {
        self.transport
            .fetch(url, body, MAX_PAGE)
            .map(answer)
            .map_err(|e| format!("{url}: {e}"))
    }

    fn code_from_page(&mut self, page: &str) -> Result<Option<String>, String> {
        let html = self.fetch(page, None)?;
        if !(200..300).contains(&html.status) {
            return Err(format!("{page} answered {}", html.status));
        }
        match find_code(page, &html.body) {
            Some(CodeSource::Link(link)) => {
                self.codes = Codes::PageLink(page.to_owned());
                Ok(Some(link))
            }
            Some(CodeSource::Api(api)) => {
                self.codes = Codes::Url(api);
                self.fresh_code()
            }
            Some(CodeSource::Images(_)) => {
                let code = self.code_from_images(page)?;
                self.codes = Codes::PageImages(page.to_owned());
                Ok(code)
            }
            None => Err(format!(
                "{page} has no sqrl:// link, no SQRL login widget and no image; use --code-url or --code-command"
            )),
        }
    }

    fn code_from_url(&self, url: &str) -> Result<Option<String>, String> {
        let mut got = self.fetch(url, None)?;
        if matches!(got.status, 404 | 405) {
            got = self.fetch(url, Some(""))?;
        }
        if !(200..300).contains(&got.status) {
            return Err(format!("{url} answered {}", got.status));
        }
        code_from_answer(url, &got.body)
            .map(Some)
            .ok_or_else(|| format!("no code in the answer of {url}: {:.200}", got.body))
    }

    fn code_from_command(command: &str) -> Result<Option<String>, String> {
        let output = if cfg!(windows) {
            std::process::Command::new("cmd")
                .args(["/C", command])
                .output()
        } else {
            std::process::Command::new("sh")
                .args(["-c", command])
                .output()
        }
        .map_err(|e| format!("{command}: {e}"))?;
        if !output.status.success() {
            return Err(format!("{command}: {}", output.status));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        sqrl_link(&text)
            .map(Some)
            .ok_or_else(|| format!("{command} printed no sqrl:// URL"))
    }
}

impl Wire for HttpWire {
    fn fresh_code(&mut self) -> Result<Option<String>, String> {
        if let Some(code) = self.pending.take() {
            return Ok(Some(code));
        }
        match self.codes.clone() {
            Codes::Page(page) => self.code_from_page(&page),
            Codes::PageLink(page) => {
                let html = self.fetch(&page, None)?;
                Ok(sqrl_link(&html.body))
            }
            Codes::PageImages(page) => self.code_from_images(&page),
            Codes::Url(url) => self.code_from_url(&url),
            Codes::Command(command) => Self::code_from_command(&command),
            Codes::Once(code) => {
                self.codes = Codes::Once(None);
                Ok(code)
            }
        }
    }

    fn post(&mut self, url: &str, body: &str) -> Result<Answer, String> {
        self.fetch(url, Some(body))
    }

    fn get(&mut self, url: &str) -> Result<Answer, String> {
        self.fetch(url, None)
    }
}
