//! The TUI: draws [`App`] with ratatui, and turns terminal events into
//! [`AppEvent`]s. Drawing is a pure function of `&App`; the terminal is
//! restored on every way out (drop, panic in any thread, signals via the
//! wiring).
//!
//! - [`ladder`]: header, narration banner, lanes and rows, footer.
//! - [`cards`]: each endpoint's sockets at the moment shown.
//! - [`diagram`]: the RFC 9293 state diagram with both ends highlighted.
//! - [`details`]: one packet's header fields and bytes.
//! - [`picker`], [`help`], [`table`]: the other screens and overlays.

pub mod cards;
pub mod details;
pub mod diagram;
pub mod explain;
pub mod help;
pub mod ladder;
pub mod parts;
pub mod picker;
pub mod quiz;
pub mod table;
pub mod text;
pub mod theme;

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{
    self as ct, DisableMouseCapture, EnableMouseCapture, KeyCode, KeyEventKind, KeyModifiers,
    MouseEventKind,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::layout::Rect;

use crate::app::{App, AppEvent, Key, Mouse, Overlay, Screen, layout};
use crate::i18n::{fill, labels};

pub use theme::{Palette, Theme};

/// The terminal in the TUI's modes; restored when dropped.
pub struct Tui {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

/// Set while the terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as it was: main screen, cooked mode, cursor shown,
/// mouse released. Idempotent, never panics, callable from any thread.
pub fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(
            out,
            DisableMouseCapture,
            LeaveAlternateScreen,
            ratatui::crossterm::cursor::Show
        );
        let _ = disable_raw_mode();
    }
}

/// What waiting on the terminal's input found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Keys (or other bytes) to read.
    Ready,
    /// Nothing within the time.
    Quiet,
    /// The terminal hung up (its window closed).
    Gone,
}

/// Waits up to `timeout` for input on the terminal the keys come from (stdin
/// when it is one, else /dev/tty, as crossterm reads). A hung-up terminal is
/// seen here, before crossterm's reader, which would spin on its endless
/// end-of-file.
#[must_use]
pub fn wait_input(timeout: std::time::Duration) -> Input {
    use std::os::fd::AsRawFd;
    static TTY: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    // SAFETY: isatty on a standard descriptor.
    let fd = if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
        libc::STDIN_FILENO
    } else {
        match TTY.get_or_init(|| std::fs::File::open("/dev/tty").ok()) {
            Some(f) => f.as_raw_fd(),
            None => return Input::Gone,
        }
    };
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for the length given.
    let n = unsafe { libc::poll(&raw mut p, 1, ms) };
    if n < 0 {
        return if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            Input::Quiet
        } else {
            Input::Gone
        };
    }
    if p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        Input::Gone
    } else if p.revents & libc::POLLIN != 0 {
        Input::Ready
    } else {
        Input::Quiet
    }
}

/// A panic in any thread restores the terminal first, prints the panic as
/// usual, then ends the process: the lab's peers die with it (they are
/// killed when their parent goes).
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let was_active = ACTIVE.load(Ordering::SeqCst);
            restore_terminal();
            previous(info);
            if was_active {
                std::process::exit(101);
            }
        }));
    });
}

impl Tui {
    /// Enters raw mode and the alternate screen, with mouse reports.
    ///
    /// # Errors
    /// The terminal refuses (not a terminal, or no raw mode).
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
            restore_terminal();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(t) => t,
            Err(e) => {
                restore_terminal();
                return Err(e);
            }
        };
        Ok(Self { terminal })
    }

    /// The terminal's size now.
    ///
    /// # Errors
    /// The size cannot be read.
    pub fn size(&self) -> io::Result<(u16, u16)> {
        let s = self.terminal.size()?;
        Ok((s.width, s.height))
    }

    /// Draws the app.
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub fn draw(&mut self, app: &App, palette: &Palette) -> io::Result<()> {
        self.terminal
            .draw(|f| {
                let area = f.area();
                render(f.buffer_mut(), area, app, palette);
            })
            .map(|_| ())
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore_terminal();
    }
}

/// A terminal event as the app understands it (none: nothing for it).
///
/// Esc followed quickly by a key reaches us as that key with Alt (the
/// terminal cannot tell them apart): it is read as Esc, then the key.
#[must_use]
pub fn convert(ev: &ct::Event) -> Vec<AppEvent> {
    match ev {
        ct::Event::Key(k) if k.kind != KeyEventKind::Release => {
            let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
            let alt = k.modifiers.contains(KeyModifiers::ALT);
            let key = match k.code {
                KeyCode::Char('c') if ctrl => Key::CtrlC,
                KeyCode::Char(c) if !ctrl => Key::Char(c),
                KeyCode::Enter => Key::Enter,
                KeyCode::Esc => Key::Esc,
                KeyCode::Tab => Key::Tab,
                KeyCode::BackTab => Key::BackTab,
                KeyCode::Backspace => Key::Backspace,
                KeyCode::Up => Key::Up,
                KeyCode::Down => Key::Down,
                KeyCode::Left => Key::Left,
                KeyCode::Right => Key::Right,
                KeyCode::PageUp => Key::PageUp,
                KeyCode::PageDown => Key::PageDown,
                KeyCode::Home => Key::Home,
                KeyCode::End => Key::End,
                _ => return Vec::new(),
            };
            if alt && key != Key::Esc {
                vec![AppEvent::Key(Key::Esc), AppEvent::Key(key)]
            } else {
                vec![AppEvent::Key(key)]
            }
        }
        ct::Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => vec![AppEvent::Mouse(Mouse::ScrollUp)],
            MouseEventKind::ScrollDown => vec![AppEvent::Mouse(Mouse::ScrollDown)],
            MouseEventKind::Down(ct::MouseButton::Left) => vec![AppEvent::Mouse(Mouse::Click {
                col: m.column,
                row: m.row,
            })],
            _ => Vec::new(),
        },
        ct::Event::Resize(width, height) => vec![AppEvent::Resize {
            width: *width,
            height: *height,
        }],
        _ => Vec::new(),
    }
}

/// Draws the whole screen into `buf` (a terminal frame, or a test buffer),
/// in the palette's theme.
pub fn render(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    draw(buf, area, app, pal);
    pal.finish(buf, area);
}

fn draw(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    buf.set_style(area, pal.base);
    if area.width < layout::MIN_WIDTH || area.height < layout::MIN_HEIGHT {
        let msg = fill(&t.too_small, &[&area.width, &area.height]);
        for (i, line) in layout::wrap(&msg, area.width.saturating_sub(2))
            .iter()
            .enumerate()
        {
            let y = area.y + u16::try_from(i).unwrap_or(0);
            if y < area.bottom() {
                text::put(
                    buf,
                    area.x + 1,
                    y,
                    line,
                    area.width.saturating_sub(2),
                    pal.warn,
                );
            }
        }
        return;
    }
    match app.screen() {
        Screen::Picker => picker::draw(buf, area, app, pal),
        Screen::Ladder => {
            ladder::draw(buf, area, app, pal);
            explain::draw(buf, app, pal);
            quiz::draw(buf, app, pal);
        }
        Screen::Table => table::draw(buf, area, app, pal),
    }
    match app.overlay() {
        Overlay::None => {}
        Overlay::Help => help::draw(buf, area, app, pal),
        Overlay::Diagram => diagram::draw_overlay(buf, area, app, pal),
        Overlay::Details => details::draw(buf, area, app, pal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyEvent, KeyEventState};

    fn key(code: KeyCode, modifiers: KeyModifiers) -> ct::Event {
        ct::Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    #[test]
    fn keys_map_to_app_keys() {
        let k = |code, m| convert(&key(code, m));
        assert!(matches!(
            k(KeyCode::Char('c'), KeyModifiers::CONTROL)[..],
            [AppEvent::Key(Key::CtrlC)]
        ));
        assert!(matches!(
            k(KeyCode::Char('q'), KeyModifiers::NONE)[..],
            [AppEvent::Key(Key::Char('q'))]
        ));
        // Esc then s, typed fast, arrives as Alt+s.
        assert!(matches!(
            k(KeyCode::Char('s'), KeyModifiers::ALT)[..],
            [AppEvent::Key(Key::Esc), AppEvent::Key(Key::Char('s'))]
        ));
        assert!(k(KeyCode::F(5), KeyModifiers::NONE).is_empty());
    }
}
