//! The microphone, through cpal (feature `mic`). Its data callback converts samples to `f32` on
//! the stack and pushes them into the ring; nothing else.

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use super::{CaptureError, DeviceInfo};
use crate::stream::Format;
use crate::stream::ring::{RingSource, RingWriter, ring};

fn backend(device: &str, err: impl std::fmt::Display) -> CaptureError {
    CaptureError::Backend {
        device: device.to_string(),
        reason: err.to_string(),
    }
}

/// Lists the input devices of the default host.
pub fn input_devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    let host = cpal::default_host();
    let default_name = host.default_input_device().map(|d| d.to_string());
    let devices = host.input_devices().map_err(|e| backend("(host)", e))?;
    Ok(devices
        .map(|d| {
            let name = d.to_string();
            DeviceInfo {
                id: d.id().map(|id| id.to_string()).unwrap_or_default(),
                default: default_name.as_deref() == Some(name.as_str()),
                config: d
                    .default_input_config()
                    .map(|c| {
                        format!(
                            "{} Hz, {} ch, {}",
                            c.sample_rate(),
                            c.channels(),
                            c.sample_format()
                        )
                    })
                    .unwrap_or_else(|e| format!("unavailable: {e}")),
                name,
            }
        })
        .collect())
}

/// A running capture stream and the reading end of its ring. Dropping it stops capture.
pub struct Capture {
    /// Keeps the stream alive.
    _stream: cpal::Stream,
    /// Where the samples arrive.
    pub source: RingSource,
    /// The device's name.
    pub device: String,
}

/// Opens `name` (or the default input) with its default configuration and starts capture
/// into a ring holding `ring_seconds` of audio.
pub fn open(name: Option<&str>, ring_seconds: f32) -> Result<Capture, CaptureError> {
    let host = cpal::default_host();
    let device = match name {
        None => host.default_input_device().ok_or(CaptureError::NoDefault)?,
        Some(wanted) => {
            let devices: Vec<cpal::Device> = host
                .input_devices()
                .map_err(|e| backend(wanted, e))?
                .collect();
            let found = devices.iter().position(|d| {
                d.to_string() == wanted || d.id().is_ok_and(|id| id.to_string() == wanted)
            });
            match found {
                Some(i) => devices.into_iter().nth(i).expect("index from position"),
                None => {
                    return Err(CaptureError::NotFound {
                        name: wanted.to_string(),
                        available: devices.iter().map(|d| d.to_string()).collect(),
                    });
                }
            }
        }
    };
    let device_name = device.to_string();
    let supported = device
        .default_input_config()
        .map_err(|e| backend(&device_name, e))?;
    let format = Format {
        sample_rate: supported.sample_rate(),
        channels: supported.channels(),
    };
    let capacity = (ring_seconds.max(0.1) * format.sample_rate as f32).ceil() as usize;
    let (writer, source) = ring(format, capacity);
    let monitor = writer.monitor();
    let on_error = move |err: cpal::Error| {
        if matches!(
            err.kind(),
            cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable
        ) {
            monitor.mark_lost();
        }
    };
    let config = supported.config();
    let channels = usize::from(format.channels);
    let stream = match supported.sample_format() {
        SampleFormat::F32 => build::<f32>(&device, config, writer, channels, on_error),
        SampleFormat::I16 => build::<i16>(&device, config, writer, channels, on_error),
        SampleFormat::I32 => build::<i32>(&device, config, writer, channels, on_error),
        SampleFormat::U16 => build::<u16>(&device, config, writer, channels, on_error),
        SampleFormat::I8 => build::<i8>(&device, config, writer, channels, on_error),
        SampleFormat::U8 => build::<u8>(&device, config, writer, channels, on_error),
        SampleFormat::F64 => build::<f64>(&device, config, writer, channels, on_error),
        other => {
            return Err(backend(
                &device_name,
                format!("sample format {other} is not supported"),
            ));
        }
    }
    .map_err(|e| backend(&device_name, e))?;
    stream.play().map_err(|e| backend(&device_name, e))?;
    Ok(Capture {
        _stream: stream,
        source,
        device: device_name,
    })
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut writer: RingWriter,
    channels: usize,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    // Whole frames per stack chunk, so a drop never splits a frame.
    let chunk = (512 / channels).max(1) * channels;
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            let mut converted = [0.0f32; 512];
            for piece in data.chunks(chunk) {
                for (c, s) in converted.iter_mut().zip(piece) {
                    *c = s.to_sample::<f32>();
                }
                writer.push_or_drop(&converted[..piece.len()]);
            }
        },
        on_error,
        None,
    )
}
