import { NavigationContainer } from '@react-navigation/native';
import { createNativeStackNavigator } from '@react-navigation/native-stack';
import { useAuth } from './auth';
import HomeScreen from './screens/HomeScreen';
import SignInScreen from './screens/SignInScreen';
import StoryScreen from './screens/StoryScreen';

const Stack = createNativeStackNavigator();

/**
 * Signed-out users only have the sign-in screen; the protected screens are not registered at
 * all until sign-in succeeds, so no link or back gesture can reach them. Signing out drops
 * them again and the navigator returns to sign-in.
 */
export default function Navigation() {
  const { status } = useAuth();
  const signedIn = status === 'signedIn';

  return (
    <NavigationContainer>
      <Stack.Navigator>
        {signedIn ? (
          <>
            <Stack.Screen name="Home" component={HomeScreen} options={{ title: 'Home' }} />
            <Stack.Screen name="Story" component={StoryScreen} options={{ title: 'Story' }} />
          </>
        ) : (
          <Stack.Screen name="SignIn" component={SignInScreen} options={{ title: 'Sign in' }} />
        )}
      </Stack.Navigator>
    </NavigationContainer>
  );
}
