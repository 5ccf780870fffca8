import { registerRootComponent } from 'expo';
import App from './src/App';

// Registers App as the root component on every platform (native and web).
registerRootComponent(App);
