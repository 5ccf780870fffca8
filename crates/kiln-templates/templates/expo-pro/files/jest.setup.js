// Native safe-area metrics do not exist under Jest, and without them SafeAreaProvider renders
// nothing; the library ships this mock for tests.
jest.mock('react-native-safe-area-context', () => require('react-native-safe-area-context/jest/mock').default);
