// What a file hides, told in plain words before it is sent: what the server will do to its
// kind of file, and for photos what exifr (served from our own origin, loaded only when a
// photo is chosen) finds in it. Nothing here leaves the page.

const MAX_TEXT = 160;

/**
 * The page's entry (in the "every kind of file" list) for the kind a chosen file is, matched
 * as the server's policy does: by the name's extension first, then by the declared type.
 * The server decides by the file's bytes in the end; this is what the source is told first.
 */
export function familyOf(file) {
  const entries = [...document.querySelectorAll('.policy-details .family')];
  const name = (file.name || '').toLowerCase();
  const dot = name.lastIndexOf('.');
  const extension = dot >= 0 ? name.slice(dot) : '';
  const declared = (file.type || '').split(';')[0].trim().toLowerCase();
  const byExtension = extension
    ? entries.find((entry) => entry.dataset.extensions.split(' ').includes(extension))
    : null;
  const byType = declared
    ? entries.find((entry) => entry.dataset.types.split(' ').includes(declared))
    : null;
  return byExtension || byType || entries.find((entry) => entry.dataset.family === 'unknown') || null;
}

let exifr = null;

function loadExifr(vendor) {
  exifr = exifr || import(`${vendor}exifr.mjs`);
  return exifr;
}

function text(value) {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(text).filter(Boolean).join(', ');
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return '';
  if (typeof value === 'object') return text(value.value ?? value.description ?? '');
  const clean = String(value).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT)}…` : clean;
}

function first(data, names) {
  for (const name of names) {
    const value = text(data[name]);
    if (value) return value;
  }
  return '';
}

function formatDate(value, lang) {
  if (value instanceof Date && !Number.isNaN(value.getTime())) {
    try {
      return new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeStyle: 'short' }).format(value);
    } catch (error) {
      return value.toISOString();
    }
  }
  return text(value);
}

/**
 * The hidden details of a photo, as message keys and parameters; `null` if it could not be
 * read here (the server still cleans it).
 */
export async function describePhoto(file, vendor, lang) {
  let data;
  try {
    const reader = await loadExifr(vendor);
    data = await reader.parse(file, {
      tiff: true, ifd0: true, exif: true, gps: true, interop: false, ifd1: false,
      xmp: true, iptc: true, icc: false, jfif: false, ihdr: true,
      makerNote: false, userComment: true,
      translateKeys: true, translateValues: true, reviveValues: true, sanitize: true,
      mergeOutput: true, silentErrors: true,
    });
  } catch (error) {
    return null;
  }
  const found = [];
  if (!data) return found;
  const taken = data.DateTimeOriginal || data.CreateDate || data.DateCreated || data.ModifyDate;
  if (taken) found.push(['photo_taken', { date: formatDate(taken, lang) }]);
  if (Number.isFinite(data.latitude) && Number.isFinite(data.longitude)) {
    found.push(['photo_place', { lat: data.latitude.toFixed(5), lon: data.longitude.toFixed(5) }]);
  }
  const placeName = [data.Sublocation, data.City, data.State, data.Country].map(text).filter(Boolean);
  if (placeName.length) found.push(['photo_place_name', { place: placeName.join(', ') }]);
  const device = [text(data.Make), text(data.Model)].filter(Boolean).join(' ');
  if (device) found.push(['photo_device', { device }]);
  const serial = first(data, [
    'BodySerialNumber', 'SerialNumber', 'CameraSerialNumber', 'InternalSerialNumber', 'LensSerialNumber',
  ]);
  if (serial) found.push(['photo_serial', { serial }]);
  const software = first(data, ['Software', 'CreatorTool', 'HostComputer']);
  if (software) found.push(['photo_software', { software }]);
  const person = first(data, ['Artist', 'CameraOwnerName', 'OwnerName', 'XPAuthor', 'creator', 'Byline', 'Copyright', 'Rights']);
  if (person) found.push(['photo_person', { name: person }]);
  const description = first(data, ['ImageDescription', 'UserComment', 'XPComment', 'XPTitle', 'Caption', 'description', 'title']);
  if (description) found.push(['photo_text', { text: description }]);
  return found;
}
