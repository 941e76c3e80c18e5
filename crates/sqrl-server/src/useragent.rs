//! A coarse reading of a User-Agent header: which browser on which system. Shown on the phone
//! so the user can tell whether the login page that is asking is their own.

/// Browser family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Browser {
    /// Unknown or absent.
    Other = 0,
    /// Mozilla Firefox.
    Firefox = 1,
    /// Google Chrome or Chromium.
    Chrome = 2,
    /// Apple Safari.
    Safari = 3,
    /// Microsoft Edge.
    Edge = 4,
    /// Opera.
    Opera = 5,
}

/// Operating system family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Os {
    /// Unknown or absent.
    Other = 0,
    /// Windows.
    Windows = 1,
    /// macOS.
    MacOs = 2,
    /// Linux (not Android).
    Linux = 3,
    /// Android.
    Android = 4,
    /// iOS / iPadOS.
    Ios = 5,
}

/// Browser and OS of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrowserInfo {
    /// Browser family.
    pub browser: Browser,
    /// OS family.
    pub os: Os,
}

impl BrowserInfo {
    /// Classifies a User-Agent header (order matters: Edge and Opera claim Chrome; Chrome
    /// claims Safari; Android claims Linux).
    pub fn from_user_agent(ua: &str) -> Self {
        let browser = if ua.contains("Edg/") || ua.contains("Edge/") {
            Browser::Edge
        } else if ua.contains("OPR/") || ua.contains("Opera") {
            Browser::Opera
        } else if ua.contains("Firefox/") || ua.contains("FxiOS") {
            Browser::Firefox
        } else if ua.contains("Chrome/") || ua.contains("Chromium/") || ua.contains("CriOS") {
            Browser::Chrome
        } else if ua.contains("Safari/") {
            Browser::Safari
        } else {
            Browser::Other
        };
        let os = if ua.contains("Android") {
            Os::Android
        } else if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
            Os::Ios
        } else if ua.contains("Windows") {
            Os::Windows
        } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
            Os::MacOs
        } else if ua.contains("Linux") || ua.contains("X11") {
            Os::Linux
        } else {
            Os::Other
        };
        Self { browser, os }
    }

    /// From the two stored codes (unknown codes read as `Other`).
    pub fn from_codes(browser: u8, os: u8) -> Self {
        let browser = match browser {
            1 => Browser::Firefox,
            2 => Browser::Chrome,
            3 => Browser::Safari,
            4 => Browser::Edge,
            5 => Browser::Opera,
            _ => Browser::Other,
        };
        let os = match os {
            1 => Os::Windows,
            2 => Os::MacOs,
            3 => Os::Linux,
            4 => Os::Android,
            5 => Os::Ios,
            _ => Os::Other,
        };
        Self { browser, os }
    }
}

impl core::fmt::Display for BrowserInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let browser = match self.browser {
            Browser::Other => "a browser",
            Browser::Firefox => "Firefox",
            Browser::Chrome => "Chrome",
            Browser::Safari => "Safari",
            Browser::Edge => "Edge",
            Browser::Opera => "Opera",
        };
        let os = match self.os {
            Os::Other => "an unknown system",
            Os::Windows => "Windows",
            Os::MacOs => "macOS",
            Os::Linux => "Linux",
            Os::Android => "Android",
            Os::Ios => "iOS",
        };
        write!(f, "{browser} on {os}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_agents() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"),
            ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("curl/8.0", "a browser on an unknown system"),
        ];
        for (ua, expected) in cases {
            let info = BrowserInfo::from_user_agent(ua);
            assert_eq!(info.to_string(), expected, "{ua}");
            assert_eq!(
                BrowserInfo::from_codes(info.browser as u8, info.os as u8),
                info
            );
        }
    }
}
