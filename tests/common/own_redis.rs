//! A Redis server of the test's own, on a free loopback port, to stop and restart under play.

use super::*;

/// A Redis of the test's own on a free loopback port, without persistence: stopping it or
/// starting it again empty disturbs no other test.
pub struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts it again on the same port, empty, after [`OwnRedis::stop`].
    pub fn start_again(&mut self) {
        self.child = Some(Self::start_on(self.port));
    }

    fn start_on(port: u16) -> Child {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/install-test-deps.sh installs it)");
        let mut child = child;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on {port}");
    }

    pub fn start() -> OwnRedis {
        let port = free_port();
        OwnRedis {
            child: Some(Self::start_on(port)),
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops it (SIGKILL): everything it held is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(Self::start_on(self.port));
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
