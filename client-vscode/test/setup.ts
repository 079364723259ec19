// Every test gets the fake of src/vscodeapi.ts (the only module that imports `vscode`).
import { vi } from 'vitest';

vi.mock('../src/vscodeapi', () => import('./mocks/vscodeapi'));
