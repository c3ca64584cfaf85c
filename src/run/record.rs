//! `--record FILE`: a session recording of the run (its header, every event
//! the model made, the bytes of each packet; `crate::recording`), which
//! `synack replay FILE` plays. `--record-inputs FILE` (hidden) writes the
//! inputs the model took instead, one JSON object a line, for the test
//! fixtures; [`replay`] gives their events again.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::event::Event;
use crate::i18n::Lang;
use crate::model::Input;
use crate::model::pipeline::{Pipeline, Recorder};
use crate::privilege::{self, OutputError, Replace};
use crate::recording::{Header, Writer};

/// Where a run is recorded, and what the file holds.
#[derive(Clone, Debug)]
pub struct RecordTo {
    pub path: PathBuf,
    /// The model's inputs (a test fixture) instead of a session recording.
    pub inputs: bool,
    /// The run's language, for the header.
    pub lang: Lang,
}

/// The inputs a run's model took, in the order it took them, one JSON object
/// a line (`--record-inputs FILE`): replayed through a model they give the
/// same events again. Tests keep such recordings as fixtures.
struct Inputs {
    out: io::BufWriter<std::fs::File>,
    error: Option<io::Error>,
}

impl Recorder for Inputs {
    fn record(&mut self, input: &Input) {
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut self.out, input)
            .map_err(io::Error::other)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let flushed = self.out.flush();
        self.error.take().map_or(flushed, Err)
    }
}

/// The events a run's model made, after the run's header (`--record FILE`).
struct Session {
    writer: Option<Writer<io::BufWriter<std::fs::File>>>,
    error: Option<io::Error>,
}

impl Recorder for Session {
    fn record(&mut self, _input: &Input) {}

    fn events(&mut self, events: &[Event]) {
        let Some(w) = &mut self.writer else { return };
        if self.error.is_some() {
            return;
        }
        for e in events {
            if let Err(err) = w.event(e) {
                self.error = Some(err);
                return;
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        w.finish().map(drop)
    }
}

/// A pipeline that also records the run (`--record`, `--record-inputs`).
/// `again`: the file is this synack's own from an earlier run of the same
/// screen (a restart), and is replaced.
///
/// # Errors
/// The file cannot be created (it exists, it is a link …) or written.
pub fn pipeline(record: Option<&RecordTo>, header: &Header, again: bool) -> Result<Pipeline> {
    let Some(to) = record else {
        return Ok(Pipeline::new());
    };
    let p = &to.path;
    let recorder: Box<dyn Recorder> = if to.inputs {
        Box::new(Inputs {
            out: io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            ),
            error: None,
        })
    } else {
        let replace = if again { Replace::Yes } else { Replace::No };
        let file = privilege::create_output(p, replace, privilege::sudo_invoker()).map_err(
            |e| match e {
                OutputError::Exists(_) => anyhow::anyhow!(
                    "{} already exists; --record never replaces a file: remove it or choose another name",
                    p.display()
                ),
                other => anyhow::Error::new(other),
            },
        )?;
        let writer = Writer::new(io::BufWriter::new(file), header)
            .with_context(|| format!("writing {}", p.display()))?;
        Box::new(Session {
            writer: Some(writer),
            error: None,
        })
    };
    Ok(Pipeline::recording(Some(recorder)))
}

/// Flushes the pipeline's recording, if any.
///
/// # Errors
/// Writing it failed (at any point of the run).
pub fn close_recording(pipeline: &mut Pipeline, record: Option<&RecordTo>) -> Result<()> {
    if record.is_some_and(|r| !r.inputs) {
        // What the model still holds belongs to the run: a session
        // recording has the whole stream.
        let _ = pipeline.finish();
    }
    pipeline.finish_recording().with_context(|| {
        format!(
            "writing {}",
            record.map_or_else(|| "the recording".into(), |r| r.path.display().to_string())
        )
    })
}

/// Replays a recording of the model's inputs (`--record-inputs`, the test
/// fixtures) through a model: the events the run showed.
///
/// # Errors
/// The file cannot be read, or a line is not an input (with its number).
pub fn replay(path: &Path) -> Result<Vec<Event>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut inputs = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let input: Input = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a recorded input", path.display(), i + 1))?;
        inputs.push(input);
    }
    Ok(crate::model::pipeline::replay(inputs))
}
