// The test helper itself: which backends FLTBRIDGE_BACKEND selects, and why one is unavailable.
import { describe, expect, it } from 'vitest';
import { selectedBackends, staticUnavailability } from '../../src/testing/index.js';

describe('selectedBackends', () => {
  it('defaults to every backend, skipping the unavailable ones', () => {
    expect(selectedBackends({})).toEqual({ backends: ['model', 'windows'], explicit: false });
    expect(selectedBackends({ FLTBRIDGE_BACKEND: 'all' })).toEqual({
      backends: ['model', 'windows'],
      explicit: false,
    });
  });

  it('named backends are explicit: unavailable means failure, not skip', () => {
    expect(selectedBackends({ FLTBRIDGE_BACKEND: 'windows' })).toEqual({
      backends: ['windows'],
      explicit: true,
    });
    expect(selectedBackends({ FLTBRIDGE_BACKEND: 'model, windows,model' })).toEqual({
      backends: ['model', 'windows'],
      explicit: true,
    });
  });

  it('refuses unknown names with the fix', () => {
    expect(() => selectedBackends({ FLTBRIDGE_BACKEND: 'vax' })).toThrow(
      /FLTBRIDGE_BACKEND: unknown backend 'vax'/,
    );
  });
});

describe('staticUnavailability', () => {
  it('windows needs Windows; the model runs everywhere', () => {
    expect(staticUnavailability('windows', 'linux')).toBe(
      'needs Windows with the fltbridge driver (this is linux)',
    );
    expect(staticUnavailability('windows', 'win32')).toBeUndefined();
    expect(staticUnavailability('model', 'linux')).toBeUndefined();
  });
});
